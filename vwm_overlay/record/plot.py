"""``vwm-overlay plot LOG --output FILE``: the chart of a recorded run, drawn again from its ``--jsonl`` log.

The log's samples are replayed (:mod:`.replay`) into a chart built as the recorder built its own, through the
same update path, so at the recorder's size the PNG has the same pixels as the recorder's last PNG of that run.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from collections.abc import Sequence

from ..chart import FORMATS, Chart, write_chart
from ..errors import UsageError
from .logformat import read_log
from .options import MAX_SCALE, MIN_HEIGHT_PX, MIN_SCALE, MIN_WIDTH_PX, UsageParser, chart_size_px
from .replay import LogReplay

__all__ = ["plot_log", "run_plot"]

DESCRIPTION = """\
Draw the chart of a run recorded with `vwm-overlay record --jsonl LOG` again, as PNG, SVG or PDF (from the
--output file's extension, or --format).  At the recorded size (the default) and over the whole run, the PNG has
the same pixels as the recorder's last PNG of that run.  --from and --to chart a window of the run, in seconds
since the recording started: the chart then starts and ends there.
"""

EPILOG = """\
exit status: 0 when the chart was written; 1 when it could not be written; 2 for bad arguments or a log that
cannot be read (missing, not a vwm-overlay log, or written by an older version).
"""


def _number(low: float) -> type[float]:
    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}: {text!r}")
        return value

    check.__name__ = "number"
    return check  # type: ignore[return-value]


def _parser() -> UsageParser:
    parser = UsageParser(
        prog="vwm-overlay plot",
        usage="%(prog)s LOG --output FILE [options]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("log", metavar="LOG", help="a log written by vwm-overlay record --jsonl")
    add("--output", "-o", required=True, metavar="FILE", help="the chart to write (.png, .svg or .pdf)")
    add("--format", choices=FORMATS, help="the output format (default: from FILE's extension)")
    add("--width", type=_number(MIN_WIDTH_PX), metavar="PX", help="default: the recorder's")
    add("--height", type=_number(MIN_HEIGHT_PX), metavar="PX", help="default: the recorder's")
    add(
        "--scale",
        type=_number(MIN_SCALE),
        metavar="F",
        help=f"{MIN_SCALE:g} to {MAX_SCALE:g} (default: the recorder's)",
    )
    add("--from", dest="from_s", type=_number(0.0), metavar="SECONDS", help="start of the window (default: 0)")
    add("--to", dest="to_s", type=_number(0.0), metavar="SECONDS", help="end of the window (default: the end)")
    add("--name", help="shown in the heading (default: the recorder's)")
    return parser


def run_plot(argv: Sequence[str]) -> int:
    """Run ``vwm-overlay plot ARGV``; returns the exit status.  Bad input raises ``UsageError``."""
    args = _parser().parse_args(list(argv))
    fmt = args.format or os.path.splitext(args.output)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"cannot tell the format of {args.output!r}: give --format png, svg or pdf")
    if args.scale is not None and args.scale > MAX_SCALE:
        raise UsageError(f"--scale must be {MIN_SCALE:g} to {MAX_SCALE:g}")
    if args.from_s is not None and args.to_s is not None and args.to_s < args.from_s:
        raise UsageError("--to is before --from")
    chart = plot_log(
        args.log,
        width_px=args.width,
        height_px=args.height,
        scale=args.scale,
        from_s=args.from_s,
        to_s=args.to_s,
        name=args.name,
    )
    try:
        write_chart(chart, args.output, fmt)
    except OSError as err:
        cause = f"{err.strerror} ({errno.errorcode.get(err.errno, err.errno)})" if err.errno else str(err)
        print(f"vwm-overlay plot: {args.output}: {cause}; nothing written", file=sys.stderr)
        return 1
    return 0


def plot_log(
    path: str,
    *,
    width_px: float | None = None,
    height_px: float | None = None,
    scale: float | None = None,
    from_s: float | None = None,
    to_s: float | None = None,
    name: str | None = None,
) -> Chart:
    """The chart of the log at ``path`` after its last sample (or the last one before ``to_s``)."""
    header, lines = read_log(path)
    recorded = header["chart"]
    scale = recorded["scale"] if scale is None else scale
    width = recorded["width_px"] if width_px is None else width_px
    height = recorded["height_px"] if height_px is None else height_px
    chart = Chart(
        *chart_size_px(width, height, scale),
        name=recorded["name"] if name is None else name,
        markers_every=recorded["markers_every"],
        hertz=header["hertz"],
        lanes=recorded["lanes"],
        scale=scale,
    )
    replay = LogReplay(header)
    for line in lines:
        if "snapshot" in line:
            if chart.samples:
                chart.sync_layers(exact=True)  # the recorder composed here: the text layer as it had it
            continue
        if "sample" not in line:
            continue  # a kind of line a later version may add
        t_s = line.get("t_s", 0.0)
        if to_s is not None and t_s > to_s:
            break
        replay.apply(line)
        if not line.get("charted", True) or (from_s is not None and t_s < from_s) or replay.root is None:
            continue
        chart.set_hertz(replay.hertz)
        chart.update(
            replay.root,
            replay.sys,
            line["sample"],
            replay.timing,
            structure_version=replay.structure_version,
            ticks_per_s=replay.ticks_per_s,
            num_cpus=replay.num_cpus,
            page_size=replay.page_size,
        )
    if chart.samples == 0:
        raise UsageError(f"{path}: no sample to chart" + (" in that window" if from_s or to_s is not None else ""))
    return chart
