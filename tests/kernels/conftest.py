"""The kernel tests run Triton through its CPU interpreter: TRITON_INTERPRET=1 must be set before triton
is first imported (triton fixes the mode then), so it is set here, before any test module is collected.
The AOT test compiles in a subprocess without it."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
