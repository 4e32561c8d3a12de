"""The disk cache keeps a function jitted twice, serial and parallel, apart.

numba keys its cache by module, qualified name, signature and code, not by ``parallel``:
umap-learn jits one function both ways, and with both cached the parallel layout loaded
the serial one's machine code (every unseeded layout ran on one thread). Each variant
reports the numba thread ids that ran its loop, in fresh processes sharing one cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

MODULE = textwrap.dedent('''
    import numba
    import numpy as np

    def thread_ids(out):
        for i in numba.prange(out.shape[0]):
            out[i] = numba.get_thread_id()

    serial = numba.njit(thread_ids, parallel=False)
    parallel = numba.njit(thread_ids, parallel=True)
''')

RUN = textwrap.dedent('''
    import json, sys
    import numpy as np
    from streaming_umap.backends.cpu import enable_numba_cache
    enable_numba_cache()
    sys.path.insert(0, sys.argv[1])
    import twins
    seen = {}
    for name in sys.argv[2].split(","):
        out = np.full(100_000, -1, dtype=np.int64)
        getattr(twins, name)(out)
        seen[name] = sorted(set(out.tolist()))
    print(json.dumps(seen))
''')


def _run(folder: Path, order: str) -> dict[str, list[int]]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / "cache"), NUMBA_NUM_THREADS="2",
               NUMBA_THREADING_LAYER="workqueue")
    done = subprocess.run([sys.executable, "-c", RUN, str(folder), order], env=env,
                          capture_output=True, text=True, timeout=240, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_serial_and_parallel_twins_are_cached_apart(tmp_path: Path) -> None:
    (tmp_path / "twins.py").write_text(MODULE)
    expected = {"serial": [0], "parallel": [0, 1]}
    assert _run(tmp_path, "serial,parallel") == expected  # both compiled and cached
    assert _run(tmp_path, "parallel,serial") == expected  # both loaded from the cache
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.nbi"))
    assert names == ["twins.thread_ids__parallel", "twins.thread_ids__serial"]
