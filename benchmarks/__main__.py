"""Every benchmark, one after another: `python -m benchmarks [RUN_DIR]`.

RUN_DIR (default runs/demo, made by the quickstart's `python train.py`) is the trained run
whose TFLite quality is measured; without it that part is skipped. hint_quality.py, which
trains four demo runs, runs only on its own. Each script prints its
own table; BENCHMARKS.md records the results with these commands.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    run_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("runs", "demo")
    scripts = [["train_step.py"], ["train_step.py", "--adam"], ["train_step.py", "--profile", "--batch", "1"],
               ["pipeline_throughput.py"], ["inference.py"], ["memory.py"], ["hint_cost.py"]]
    if os.path.exists(os.path.join(run_dir, "generator.keras")):
        scripts.append(["tflite_quality.py", run_dir])
    else:
        print(f"(no trained run at {run_dir}: TFLite quality skipped; run `python train.py` first)")
    failed = 0
    for script, *args in scripts:
        print(f"\n## {script} {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, os.path.join(HERE, script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
