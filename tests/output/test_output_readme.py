"""README's structured-output example runs as written, on the Fake provider."""

from __future__ import annotations

from tests._readme import run_readme_example


def test_the_readme_example_runs_and_prints_what_its_comments_say() -> None:
    done = run_readme_example("structured-output")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Invoice [Item(name='name', quantity=1)]"
    assert lines[1].startswith('native {"customer": "customer", "items": [')
    assert lines[2] == "{'customer': 'customer'}"
    assert "customer='customer' items=[Item(name='name', quantity=1)]" in lines
    assert "customer='Ada' items=[Item(name='widget', quantity=3)]" in lines
    assert "- items.0.quantity: Input should be greater than or equal to 1" in lines
    assert lines[-1] == "2 no"
