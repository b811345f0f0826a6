"""The stock monitor's scan against its floor: `run_cycle()` timed beside one hand-written
INSERT ... SELECT ... ON CONFLICT DO NOTHING over the same tables, on SQLite and PostgreSQL, and
the cycle with the forecast on beside the cycle with it off. Every shop has recipients (an email
address, and every fourth shop an SMS number), so the first cycle writes outbox rows too.

    python bench/monitor_scan.py                       # 1,000 shops x 1,000 products, both databases
    python bench/monitor_scan.py --quick --db sqlite   # 50 shops x 200 products, a few seconds
    python bench/monitor_scan.py --locations 3         # 3 locations a shop, against 3x the products at one

Schemas are built by the migrations, rows are bulk-loaded with INSERT ... SELECT over a number
series (generate_series on PostgreSQL, a recursive CTE on SQLite), PostgreSQL runs in a
throwaway cluster that the bench starts and removes. Every shop is on UTC with one active user;
every `--low-every`th product of a shop is at or below the default threshold of 5. Every product
has `--movements` sale movements over the last 26 days: one unit each, except every
`--fast-every`th product, which sold ten times its stock (2 days left, so the forecast alerts).

Each round times the floor, floor+ (the cycle's writes, hand-written) and the cycle, each once on
an empty log ("first") and once more ("repeat"), emptying what they wrote in between; then the
cycle with the forecast on (`--forecast-days` in every shop), and the `low` and `forecast` rules
alone (each one INSERT ... SELECT into the log, as the cycle runs it). The best round is shown.
Then the tracemalloc peak of one cycle (forecast off) at three sizes: what grows with what.

This module measures and reports; the schema and the bulk load are in monitor_data.py, the
hand-written floor and floor+ in monitor_floor.py, what one measurement times in monitor_timing.py.
"""
import argparse
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/monitor_scan.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from bench.monitor_data import (PostgresDatabases, Shape, SqliteDatabases, bench_config, load, reset,  # noqa: E402
                                 set_forecast, settle)
from bench.monitor_floor import time_floor, time_full_floor, written  # noqa: E402
from bench.monitor_timing import ROLLS, time_cycle, time_rolls, time_rule, traced_cycle, warm_up  # noqa: E402
from modules import create_app  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.postgres import find_bindir  # noqa: E402

FORECAST_TARGET = 1.3  # the whole cycle with the forecast on, at most this times the cycle with it off
OUTBOX_TARGET = 1.3  # the first cycle (its outbox rows included), at most this times floor+
LOCATIONS_TARGET = 1.5  # the cycle at N locations, at most this times the cycle of as many stock rows at one


@dataclass
class Timing:
    database: str
    phase: str  # "first" (empty log) or "repeat" (everything already logged today)
    cycle_seconds: list = field(default_factory=list)
    floor_seconds: list = field(default_factory=list)
    full_seconds: list = field(default_factory=list)  # floor+: the cycle's writes, hand-written
    new_alerts: list = field(default_factory=list)
    floor_rows: list = field(default_factory=list)
    cycle_writes: dict = field(default_factory=dict)  # rows per table after the cycle's phase
    full_writes: dict = field(default_factory=dict)  # the same after floor+
    on_seconds: list = field(default_factory=list)  # the cycle with the forecast on
    on_alerts: list = field(default_factory=list)  # {kind: new alerts} of each cycle with the forecast on
    low_rule_seconds: list = field(default_factory=list)  # the low rule alone: one INSERT into the log
    low_rule_rows: list = field(default_factory=list)
    forecast_rule_seconds: list = field(default_factory=list)  # the forecast rule alone
    forecast_rule_rows: list = field(default_factory=list)

    # Best of the rounds: on a shared machine the minimum is the figure least disturbed by others.
    @property
    def cycle(self):
        return min(self.cycle_seconds)

    @property
    def floor(self):
        return min(self.floor_seconds)

    @property
    def full(self):
        return min(self.full_seconds)

    @property
    def ratio(self):
        return self.cycle / self.floor if self.floor else float("inf")

    @property
    def full_ratio(self):
        return self.cycle / self.full if self.full else float("inf")

    @property
    def cycle_on(self):
        return min(self.on_seconds)

    @property
    def on_off_ratio(self):
        return self.cycle_on / self.cycle if self.cycle else float("inf")

    @property
    def low_rule(self):
        return min(self.low_rule_seconds)

    @property
    def forecast_rule(self):
        return min(self.forecast_rule_seconds)


@dataclass
class MemoryPeak:
    database: str
    shape: Shape
    first_new: int
    first_peak: int  # bytes, tracemalloc peak during the cycle
    repeat_new: int
    repeat_peak: int


# --- what is measured ------------------------------------------------------------------------

def measure_timings(label, shape, rounds):
    """Floor, floor+, the cycle with the forecast off and on, and the low and forecast rules
    alone, first and repeat, `rounds` times (alternating the order)."""
    first, repeat = Timing(label, "first"), Timing(label, "repeat")

    def floor():
        for timing in (first, repeat):
            seconds, rows = time_floor()
            timing.floor_seconds.append(seconds)
            timing.floor_rows.append(rows)
        reset()

    def full_floor():
        for timing in (first, repeat):
            timing.full_seconds.append(time_full_floor())
            timing.full_writes = written()
        reset()

    def cycle():
        for timing in (first, repeat):
            seconds, created = time_cycle()
            timing.cycle_seconds.append(seconds)
            timing.new_alerts.append(sum(created.values()))
            timing.cycle_writes = written()
            settle()
        reset()

    def cycle_forecast_on():
        set_forecast(shape, on=True)
        for timing in (first, repeat):
            seconds, created = time_cycle()
            timing.on_seconds.append(seconds)
            timing.on_alerts.append(created)
            settle()
        reset()
        set_forecast(shape, on=False)

    def rules_alone():
        set_forecast(shape, on=True)
        for kind, seconds_of, rows_of in (("low", "low_rule_seconds", "low_rule_rows"),
                                          ("forecast", "forecast_rule_seconds", "forecast_rule_rows")):
            for timing in (first, repeat):
                seconds, rows = time_rule(kind)
                getattr(timing, seconds_of).append(seconds)
                getattr(timing, rows_of).append(rows)
        reset()
        set_forecast(shape, on=False)

    ROLLS[label] = time_rolls()
    warm_up()
    for round_no in range(rounds):
        steps = (floor, full_floor, cycle, cycle_forecast_on, rules_alone)
        for step in (steps if round_no % 2 == 0 else reversed(steps)):
            step()
    return [first, repeat]


def measure_memory(label, shape):
    first_new, first_peak = traced_cycle()
    repeat_new, repeat_peak = traced_cycle()
    reset()
    return MemoryPeak(label, shape, first_new, first_peak, repeat_new, repeat_peak)


def run_database(databases, shape, memory_shapes, rounds, out):
    """Every measurement on one kind of database; returns (timings, memory peaks, timings of the
    comparison: as many stock rows at one location per shop, when `shape` has several)."""
    timings, peaks, compared = [], [], []
    one = shape.one_location() if shape.locations > 1 else None
    for use in [shape, *([one] if one else []), *[s for s in memory_shapes if s != shape]]:
        app = create_app(bench_config(databases.new()))
        with app.app_context():
            started = time.perf_counter()
            load(use)
            out(f"  {databases.name}: loaded {use} in {time.perf_counter() - started:.1f}s")
            if use == shape:
                timings = measure_timings(databases.name, shape, rounds)
            elif use == one:
                compared = measure_timings(databases.name, one, rounds)
            else:  # compile caches warm, as they are for the timed shape, so only the cycle is traced
                time_cycle()
                time_cycle()
                reset()
            if use in memory_shapes:
                peaks.append(measure_memory(databases.name, use))
            db.session.remove()
            db.engine.dispose()
    return timings, peaks, compared


# --- the command -----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--shops", type=int, help="shops (default 1,000; 50 with --quick)")
    parser.add_argument("--products", type=int, help="products per shop (default 1,000; 200 with --quick)")
    parser.add_argument("--low-every", type=int, default=20,
                        help="every n-th product of a shop is low (default 20, i.e. 5%%)")
    parser.add_argument("--movements", type=int, default=30,
                        help="sale movements per product over the last 26 days (default 30; 0: no sales)")
    parser.add_argument("--fast-every", type=int, default=10,
                        help="every n-th product of a shop sells fast enough for the forecast to alert "
                             "(default 10, i.e. 10%%)")
    parser.add_argument("--forecast-days", type=int, default=3,
                        help="forecast_days in every shop when the forecast is on (default 3)")
    parser.add_argument("--rounds", type=int, help="timed rounds, the best is shown (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small run: 50 shops x 200 products, one round")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--locations", type=int, default=1,
                        help="locations per shop, each carrying every product (default 1); with 2 or more, "
                             "the same is also run with as many stock rows at one location per shop "
                             "(N x the products) and the cycles compared")
    args = parser.parse_args(argv)
    if not 0 <= args.movements <= 100:  # a fast seller sells 10 x stock >= 100 units: every delta below 0
        parser.error("--movements must be between 0 and 100")
    if args.fast_every < 1 or args.low_every < 1 or args.forecast_days < 1 or args.locations < 1:
        parser.error("--fast-every, --low-every, --forecast-days and --locations must be at least 1")
    args.shops = args.shops or (50 if args.quick else 1000)
    args.products = args.products or (200 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 5)
    return args


def memory_shapes_for(shape):
    """A tenth of the products with the same share low; the same products with a tenth as many
    low (as many alerts as the first); and the full shape: what grows with what. The cycle is
    traced with the forecast off, so the two extra shapes are loaded without sales."""
    return [
        replace(shape, products=max(1, shape.products // 10), movements=0),
        replace(shape, low_every=shape.low_every * 10, movements=0),
        shape,
    ]


def report_forecast(timings, shape, out):
    out("")
    out(f"forecast: forecast_days = {shape.forecast_days} in every shop, 28-day window, "
        f"{shape.movements} sales per product ({shape.sale_movements:,} movements)")
    out(f"{'database':<10} {'phase':<7} {'cycle off s':>11} {'cycle on s':>11} {'on/off':>7} {'low rule s':>11} "
        f"{'forecast s':>11} {'new: off':>9} {'on: low':>8} {'on: forecast':>13}   "
        "every round: off / on / low rule / forecast rule s")
    for t in timings:
        on = t.on_alerts[0]
        out(f"{t.database:<10} {t.phase:<7} {t.cycle:>11.3f} {t.cycle_on:>11.3f} {t.on_off_ratio:>6.2f}x "
            f"{t.low_rule:>11.3f} {t.forecast_rule:>11.3f} {t.new_alerts[0]:>9,} {on.get('low', 0):>8,} "
            f"{on.get('forecast', 0):>13,}   "
            + "  ".join(f"{a:.3f}/{b:.3f}/{c:.3f}/{d:.3f}" for a, b, c, d in
                        zip(t.cycle_seconds, t.on_seconds, t.low_rule_seconds, t.forecast_rule_seconds)))
        if t.forecast_rule_rows[0] != on.get("forecast", 0):
            out(f"  ! {t.database} {t.phase}: the forecast rule alone logged {t.forecast_rule_rows[0]:,}, "
                f"the cycle {on.get('forecast', 0):,}")
    out("cycle off / on: run_cycle() with forecast_days = 0 / > 0; low rule, forecast rule: that kind's "
        "INSERT ... SELECT into the log alone (forecast on); best of each.")
    for database, (recount, slide) in ROLLS.items():
        out(f"the day's roll of the forecast windows ({database}, once a shop-local day, before the cycles "
            f"above): recount {recount:.3f}s, slide {slide:.3f}s")
    out(f"forecast on/off (target <= {FORECAST_TARGET:.1f}x): "
        + ", ".join(f"{t.database} {t.phase} {t.on_off_ratio:.2f}x "
                    f"({'met' if t.on_off_ratio <= FORECAST_TARGET else 'missed'})" for t in timings))


def report(timings, peaks, shape, out):
    out("")
    out(f"{'database':<10} {'phase':<7} {'cycle s':>8} {'floor s':>8} {'ratio':>7} {'floor+ s':>9} "
        f"{'ratio+':>7} {'new alerts':>11} {'floor rows':>11}   every round: cycle / floor / floor+ s")
    for t in timings:
        out(f"{t.database:<10} {t.phase:<7} {t.cycle:>8.3f} {t.floor:>8.3f} {t.ratio:>6.2f}x {t.full:>9.3f} "
            f"{t.full_ratio:>6.2f}x {t.new_alerts[0]:>11,} {t.floor_rows[0]:>11,}   "
            + "  ".join(f"{c:.3f}/{f:.3f}/{g:.3f}"
                        for c, f, g in zip(t.cycle_seconds, t.floor_seconds, t.full_seconds)))
        if t.cycle_writes != t.full_writes:
            out(f"  ! {t.database} {t.phase}: the cycle wrote {t.cycle_writes}, floor+ {t.full_writes}")
    out("floor: one INSERT ... SELECT ... ON CONFLICT DO NOTHING (the log rows only); floor+: the same "
        "rows as the cycle (log, notifications, episodes, outbox, resolved episodes), hand-written; best of each.")
    firsts = [t for t in timings if t.phase == "first"]
    if firsts:
        out(f"outbox: {firsts[0].cycle_writes.get('deliveries', 0):,} rows in the first cycle "
            f"({shape.expected_deliveries:,} expected: email in every shop, SMS in {shape.sms_shops:,}); "
            f"first cycle / floor+ (target <= {OUTBOX_TARGET}x): "
            + ", ".join(f"{t.database} {t.full_ratio:.2f}x ({'met' if t.full_ratio <= OUTBOX_TARGET else 'missed'})"
                        for t in firsts))
    report_forecast(timings, shape, out)
    if peaks:
        out("")
        out("peak Python memory of one cycle (tracemalloc)")
        out(f"{'database':<10} {'products':>10} {'low':>8} {'first: new':>11} {'peak MiB':>9} "
            f"{'repeat: new':>12} {'peak MiB':>9}")
        for p in sorted(peaks, key=lambda p: (p.database != "sqlite", p.shape.products, p.shape.expected_alerts)):
            out(f"{p.database:<10} {p.shape.shops * p.shape.products:>10,} {p.shape.expected_alerts:>8,} "
                f"{p.first_new:>11,} {p.first_peak / 2**20:>9.2f} {p.repeat_new:>12,} {p.repeat_peak / 2**20:>9.2f}")


def report_locations(timings, compared, shape, out):
    one = shape.one_location()
    out("")
    out(f"locations: {shape.shops:,} shops x {shape.products:,} products at {shape.locations} locations "
        f"against {one.shops:,} shops x {one.products:,} products at one location "
        f"({shape.shops * shape.places:,} stock rows, {shape.expected_alerts:,} low places, each)")
    out(f"{'database':<10} {'phase':<7} {f'cycle {shape.locations} loc s':>13} {'cycle 1 loc s':>13} {'ratio':>7} "
        f"{'new alerts':>11} {'new at 1':>9}   every round: {shape.locations} locations / 1 location s")
    ratios = []
    for t, c in zip(timings, compared):
        ratio = t.cycle / c.cycle if c.cycle else float("inf")
        ratios.append((t, ratio))
        out(f"{t.database:<10} {t.phase:<7} {t.cycle:>13.3f} {c.cycle:>13.3f} {ratio:>6.2f}x "
            f"{t.new_alerts[0]:>11,} {c.new_alerts[0]:>9,}   "
            + "  ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(t.cycle_seconds, c.cycle_seconds)))
    out(f"cycle at {shape.locations} locations / at one (target <= {LOCATIONS_TARGET}x): "
        + ", ".join(f"{t.database} {t.phase} {r:.2f}x ({'met' if r <= LOCATIONS_TARGET else 'missed'})"
                    for t, r in ratios))


def main(argv=None, out=print):
    """Run the bench; returns {"shape", "timings", "peaks"} for the caller (and the smoke test)."""
    args = parse_args(argv)
    shape = Shape(args.shops, args.products, args.low_every, args.movements, args.fast_every, args.forecast_days,
                  locations=args.locations)
    memory_shapes = [] if args.no_memory else memory_shapes_for(shape)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    out(f"monitor scan bench: {shape}, {args.rounds} round(s), Python {platform.python_version()}")
    if "postgres" in kinds and not find_bindir():
        if args.db == "postgres":
            raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR")
        out("  PostgreSQL server binaries not found (set PG_BINDIR): PostgreSQL skipped")
        kinds.remove("postgres")
    timings, peaks, compared = [], [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stockbell-bench-") as workdir:
        for kind in kinds:
            databases = SqliteDatabases(workdir) if kind == "sqlite" else PostgresDatabases()
            try:
                out(f"  {databases.version()}")
                t, p, c = run_database(databases, shape, memory_shapes, args.rounds, out)
            finally:
                databases.close()
            timings += t
            peaks += p
            compared += c
    report(timings, peaks, shape, out)
    if shape.locations > 1:
        report_locations(timings, compared, shape, out)
    out(f"\ntarget: cycle within 1.5x the floor; first cycle within {OUTBOX_TARGET}x floor+; cycle with the forecast "
        f"on within {FORECAST_TARGET:.1f}x the cycle with it off"
        + (f"; cycle at {shape.locations} locations within {LOCATIONS_TARGET}x the cycle at one"
           if shape.locations > 1 else "")
        + f"; total bench time {time.perf_counter() - started:.0f}s")
    result = {"shape": shape, "timings": timings, "peaks": peaks}
    if shape.locations > 1:
        result["one_location"] = compared
    return result


if __name__ == "__main__":
    main()
