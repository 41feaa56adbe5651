"""What hints buy and what they cost the automatic colouring, on the demo data (issue 12's targets).

    python benchmarks/hint_quality.py [--seeds 0 1 2] [--runs benchmarks/.runs/hints] [--data DIR]

For each seed it trains the quickstart's demo twice, `python train.py --seed S` (hints, the
default) and `--no-hints`, into --runs (a finished run is reused, so the script can be run
again to add seeds), then runs the ideepcolor sweep (`irodori-evaluate --hint-sweep`) on the
hinted run's validation split and, with --data, on that folder too (e.g. real-sized pictures
from benchmarks/pipeline_throughput.py). Printed: per seed the automatic PSNR of both runs
(their own evaluation: 64 px validation crops) and the sweep's PSNR and hints obeyed per count;
then the means over seeds. GAN training on two CPU cores is not deterministic from run to run,
so single runs differ by about half a dB: compare means.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTS = "0,1,2,5,10,20,50,100"


def run(args):
    print("$", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def trained(out, flags):
    if not os.path.exists(os.path.join(out, "evaluation", "metrics.json")):
        run(["train.py", "--out", out, "--verbose", "0", *flags])
    with open(os.path.join(out, "evaluation", "metrics.json")) as f:
        return json.load(f)["summary"]["model"]["psnr"]


def swept(model, out, data=None):
    if not os.path.exists(os.path.join(out, "metrics.json")):
        run(["-m", "export.evaluate", "--model", model, "--out", out, "--hint-sweep", COUNTS, "--overwrite",
             *(["--data", data] if data else [])])
    with open(os.path.join(out, "metrics.json")) as f:
        return {row["hints"]: row for row in json.load(f)["hint_sweep"]["rows"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", default=os.path.join(ROOT, "benchmarks", ".runs", "hints"))
    parser.add_argument("--data", help="also sweep this folder of colour pictures with each hinted model")
    args = parser.parse_args()

    sweeps = {"demo validation": []}
    if args.data:
        sweeps[args.data] = []
    automatic = {"hints": [], "no hints": []}
    for seed in args.seeds:
        hinted = os.path.join(args.runs, f"hints_seed{seed}")
        automatic["hints"].append(trained(hinted, ["--seed", str(seed)]))
        automatic["no hints"].append(trained(os.path.join(args.runs, f"nohints_seed{seed}"),
                                             ["--seed", str(seed), "--no-hints"]))
        sweeps["demo validation"].append(swept(hinted, os.path.join(hinted, "sweep_validation")))
        if args.data:
            sweeps[args.data].append(swept(os.path.join(hinted, "generator.keras"),
                                           os.path.join(hinted, "sweep_data"), args.data))
        print(f"seed {seed}: automatic PSNR {automatic['hints'][-1]:.2f} dB with hints training, "
              f"{automatic['no hints'][-1]:.2f} dB with --no-hints", flush=True)

    print(f"\nautomatic colouring, mean over seeds {args.seeds}: hints {np.mean(automatic['hints']):.2f} dB, "
          f"--no-hints {np.mean(automatic['no hints']):.2f} dB, difference "
          f"{np.mean(automatic['hints']) - np.mean(automatic['no hints']):+.2f} dB")
    for name, rows in sweeps.items():
        counts = sorted(rows[0])
        print(f"\nsweep on {name} (mean over seeds): hints | PSNR dB | hints obeyed (median CIEDE2000)")
        for count in counts:
            psnr = np.mean([row[count]["psnr"] for row in rows])
            obeyed = [row[count]["hints_obeyed"] for row in rows if row[count]["hints_obeyed"] is not None]
            print(f"{count:5d} | {psnr:6.2f} | " + (f"{np.mean(obeyed):.2f}" if obeyed else "-"))
        gain = np.mean([row[10]["psnr"] - row[0]["psnr"] for row in rows]) if {0, 10} <= set(counts) else None
        if gain is not None:
            print(f"0 -> 10 hints: {gain:+.2f} dB (ideepcolor on ImageNet: +3.99 dB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
