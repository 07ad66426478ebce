"""Helpers the tests share. pytest rewrites their asserts like the tests' own, so that a
failing check in a helper shows its values too."""

import pkgutil

import pytest

pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
