"""The demo project generator: a small, realistic CryoSPARC project to try csrebind on and to
test it against (``csrebind demo``, the tests, the screenshots, the benchmarks).

``docgen`` renders job documents in either schema from a neutral description; ``project``
writes the demo project's files. It sits above the core and may import it; the core never
imports this package.
"""

from .project import write_demo

__all__ = ["write_demo"]
