"""Display options as a Jupyter kernel has them, so text reprs match what notebooks store.

pandas chooses its defaults when it is imported: outside a kernel ``display.max_columns`` is 0,
"fit the terminal", so a wide DataFrame is cut to the terminal's width with ``...`` and gets a
``[5 rows x 12 columns]`` line. Under a kernel (pandas.core.config_init.is_terminal() is False
when get_ipython() has a ``kernel``) it is 20, with ``display.width`` 80: the frame is wrapped
in blocks of columns (a trailing ``\\``), with no dimensions line unless rows or columns were
cut. The fork server sets the kernel's values once; every child inherits them.
"""

from __future__ import annotations

KERNEL_PANDAS_OPTIONS = {
    "display.max_columns": 20,
    "display.width": 80,
}


def set_pandas_options() -> None:
    try:
        import pandas
    except ImportError:
        return
    for name, value in KERNEL_PANDAS_OPTIONS.items():
        pandas.set_option(name, value)


def sample_frame():
    try:
        import pandas
    except ImportError:
        return [1, 2, 3]
    return pandas.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
