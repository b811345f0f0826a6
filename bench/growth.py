"""How the monitor's cycle grows with the shops (issue 18, the README's growth table): at 10,000,
100,000 and 1,000,000 products (1,000 a shop, 30 sales each, 5% low, 10% selling fast), on SQLite
and PostgreSQL, the cycle with the forecast off and on (first and repeat, one round each), the
day's roll of the forecast windows, and the tracemalloc peak of a first cycle with the forecast on.

    python bench/growth.py                          # 10k, 100k and 1M products, both databases
    python bench/growth.py --sizes 10000 100000 --db sqlite

The shops and their data are loaded as bench/monitor_scan.py loads them (bench/monitor_data.py)."""
import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.monitor_data import (PostgresDatabases, Shape, SqliteDatabases, bench_config, load, reset,  # noqa: E402
                                 set_forecast, settle)
from bench.monitor_timing import time_cycle, time_rolls, traced_cycle, warm_up  # noqa: E402
from modules import create_app  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.postgres import find_bindir  # noqa: E402

PER_SHOP = 1_000


def measure(databases, products, out):
    """One size on one database: a row of the table."""
    shape = Shape(shops=max(1, products // PER_SHOP), products=min(products, PER_SHOP), low_every=20, movements=30)
    app = create_app(bench_config(databases.new()))
    with app.app_context():
        started = time.perf_counter()
        load(shape)
        loaded = time.perf_counter() - started
        recount, slide = time_rolls()
        warm_up()
        set_forecast(shape, on=True)
        time_cycle()  # compile caches warm for both: the first timed cycle is not the first of the process
        reset()
        set_forecast(shape, on=False)
        off = [time_cycle()[0]]
        settle()
        off.append(time_cycle()[0])
        reset()
        set_forecast(shape, on=True)
        on = [time_cycle()[0]]
        settle()
        on.append(time_cycle()[0])
        reset()
        new, peak = traced_cycle()
        reset()
        db.session.remove()
        db.engine.dispose()
    row = {"database": databases.name, "products": shape.shops * shape.products, "load": loaded,
           "off": off, "on": on, "recount": recount, "slide": slide, "peak_mb": peak / 2 ** 20, "alerts": new}
    out(f"  {row['database']} {row['products']:,}: loaded in {loaded:.0f}s; off {off[0]:.3f}/{off[1]:.3f}s, "
        f"on {on[0]:.3f}/{on[1]:.3f}s, peak {row['peak_mb']:.1f} MiB")
    return row


def report(rows, out):
    out("")
    out(f"{'database':<10} {'products':>10} {'off first':>10} {'off repeat':>11} {'on first':>9} {'on repeat':>10} "
        f"{'on/off':>13} {'roll':>15} {'peak MiB':>9}")
    for r in rows:
        ratios = f"{r['on'][0] / r['off'][0]:.2f}x/{r['on'][1] / r['off'][1]:.2f}x"
        out(f"{r['database']:<10} {r['products']:>10,} {r['off'][0]:>10.3f} {r['off'][1]:>11.3f} {r['on'][0]:>9.3f} "
            f"{r['on'][1]:>10.3f} {ratios:>13} {r['recount']:>7.2f}/{r['slide']:<7.2f} {r['peak_mb']:>9.1f}")
    out("seconds of run_cycle(); on/off: first/repeat; roll: the day's recount/slide of every shop's windows "
        "(once a shop-local day, not in the cycles); peak: tracemalloc, a first cycle with the forecast on "
        "(the alerts it raised: " + ", ".join(f"{r['alerts']:,}" for r in rows) + ")")


def main(argv=None, out=print):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in kinds and not find_bindir():
        out("PostgreSQL server binaries not found (set PG_BINDIR): PostgreSQL skipped")
        kinds.remove("postgres")
    out(f"growth bench: {', '.join(f'{n:,}' for n in args.sizes)} products, Python {platform.python_version()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="stockbell-growth-") as workdir:
        for kind in kinds:
            databases = SqliteDatabases(workdir) if kind == "sqlite" else PostgresDatabases()
            try:
                out(f"  {databases.version()}")
                rows += [measure(databases, n, out) for n in args.sizes]
            finally:
                databases.close()
    report(rows, out)
    return rows


if __name__ == "__main__":
    main()
