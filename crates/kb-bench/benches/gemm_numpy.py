"""numpy's single-threaded sgemm at 1024x1024x1024: the reference for benches/gemm.rs.

Run with the OpenBLAS core-type overrides this workplace may set removed, so OpenBLAS picks its
kernel for the CPU it runs on (the script prints which):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 crates/kb-bench/benches/gemm_numpy.py

Prints the median GFLOP/s over REPS timed calls after a warm-up, for:
- f32: np.matmul(a, b, out=c) on f32 operands (sgemm);
- f16: a16.astype(np.float32) @ b16.astype(np.float32), the f16 path a numpy user would take.
Needs numpy; threadpoolctl, if installed, reports the BLAS and its kernel.
"""

import os

# Single-threaded BLAS: set before numpy is imported, or the thread pools are already up.
for var in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[var] = "1"

import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

N = 1024
FLOPS = 2 * N**3
WARMUP = 5
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 25


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (numpy.show_config() names the BLAS)"
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i.get('num_threads')}"
        for i in infos
    ) or "no BLAS found by threadpoolctl"


def median_gflops(fn):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return FLOPS / med / 1e9, med


def main():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (N, N)).astype(np.float32)
    b = rng.uniform(-1, 1, (N, N)).astype(np.float32)
    c = np.empty((N, N), np.float32)
    a16, b16 = a.astype(np.float16), b.astype(np.float16)

    print(f"cpu: {cpu_model()}")
    print(f"numpy {np.__version__}, python {platform.python_version()}")
    print(f"blas: {blas_info()}")
    print(f"env OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}")
    for name, fn in (
        ("f32 np.matmul(a, b, out=c)", lambda: np.matmul(a, b, out=c)),
        ("f16 a.astype(f32) @ b.astype(f32)", lambda: a16.astype(np.float32) @ b16.astype(np.float32)),
    ):
        gflops, med = median_gflops(fn)
        print(f"{name}: median {med * 1e3:.2f} ms = {gflops:.1f} GFLOP/s over {REPS} reps")


if __name__ == "__main__":
    main()
