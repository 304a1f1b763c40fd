"""Benchmark: memory and time of importing a large package (validate + extract into storage).

Generates a SCORM 1.2 package of N MiB of incompressible media (like a video-heavy Storyline
export), imports it in a fresh child process with the production code path, and reports the
child's peak RSS against a baseline process that only imports the modules. Run:

    .venv/bin/python bench/package_import_bench.py --size-mib 512 --repeat 3

Storage is local (a temporary directory) unless --s3-endpoint is given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from app.core.config import Settings
from app.core.storage import LocalStorage
from app.packages import importer, service
settings = Settings(_env_file=None, package_max_uncompressed_bytes=8 * 1024**3)
limits = service.limits(settings)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[1] == "baseline":
    print(json.dumps({"peak_kib": baseline})); sys.exit(0)
storage = LocalStorage(Path(sys.argv[2]))
started = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    v = importer.validate(fh, limits)
    assert v.ok, v.errors
    files, total = importer.extract(fh, v, storage, "packages/bench/v1/", limits)
elapsed = time.perf_counter() - started
print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "seconds": elapsed, "files": files, "bytes": total}))
"""


def make_package(path: Path, size_mib: int, file_mib: int = 8) -> None:
    manifest = (ROOT / "tests" / "packages" / "builders.py").read_text()
    start = manifest.index('SCORM12_MANIFEST = """') + len('SCORM12_MANIFEST = """')
    xml = manifest[start : manifest.index('"""', start)].replace("\\ufeff", "")
    block = os.urandom(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr("imsmanifest.xml", xml)
        zf.writestr("index_lms.html", "<html><body>bench</body></html>")
        zf.writestr("story_content/data.js", "window.story={}")
        for i in range(max(1, size_mib // file_mib)):
            with zf.open(f"story_content/media/video_{i:03d}.mp4", "w", force_zip64=True) as out:
                for j in range(file_mib):
                    out.write(block[j:] + block[:j])  # distinct, incompressible chunks


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "big.zip"
        t0 = time.perf_counter()
        make_package(package, args.size_mib)
        print(f"generated {package.stat().st_size / 1024**2:.0f} MiB package in {time.perf_counter() - t0:.1f} s")
        baseline = run_child("baseline")["peak_kib"]
        peaks, times = [], []
        for i in range(args.repeat):
            out_dir = Path(tmp) / f"storage{i}"
            result = run_child(str(package), str(out_dir))
            peaks.append(result["peak_kib"])
            times.append(result["seconds"])
            print(f"run {i + 1}: peak RSS {result['peak_kib'] / 1024:.0f} MiB, {result['seconds']:.1f} s, "
                  f"{result['files']} files, {result['bytes'] / 1024**2:.0f} MiB extracted")
            subprocess.run(["rm", "-rf", str(out_dir)], check=True)
        print(json.dumps({
            "package_mib": round(package.stat().st_size / 1024**2),
            "baseline_rss_mib": round(baseline / 1024, 1),
            "median_peak_rss_mib": round(statistics.median(peaks) / 1024, 1),
            "median_extra_rss_mib": round((statistics.median(peaks) - baseline) / 1024, 1),
            "median_seconds": round(statistics.median(times), 2),
            "median_mib_per_s": round(package.stat().st_size / 1024**2 / statistics.median(times), 1),
        }, indent=2))


if __name__ == "__main__":
    main()
