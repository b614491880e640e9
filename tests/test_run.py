"""micromet run: papermill execution in order, hidden parameters, clean metadata, atomic output,
deterministic results.json; the CLI."""

import json
from pathlib import Path

import nbformat
import pytest

from micromet.cli import main
from micromet.errors import InputError
from micromet.run import ChapterFailed, clean_notebook, dumps, round_floats, run_study

STUDY = """
name: toy
title: toy
source: "synthetic://toy?seed=3"
seed: 3
chapters: [a_first, b_second]
exposure: {column: g, reference: "0", exposed: "1"}
covariates: [x]
outcomes: {os: {label: OS, time: t, event: d}}
"""


def notebook(cells, path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for i, (source, tags) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"c{i}"
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, str(path))


@pytest.fixture
def toy(tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    params = ('study = {}\noutput_dir = "."', ["parameters"])
    notebook([params, (
        "import json, pathlib\n"
        "p = pathlib.Path(output_dir, 'summaries'); p.mkdir(exist_ok=True)\n"
        "(p / 'first.json').write_text(json.dumps({'seed': study['seed'], "
        "'third': 1/3, 'caliper': study['options'].get('caliper')}))\n"
        "print(study['seed'])", ["nbval-check-output"])], nbdir / "a_first.ipynb")
    notebook([params, (
        "import json, pathlib\n"
        "first = json.loads(pathlib.Path(output_dir, 'summaries', 'first.json').read_text())\n"
        "if study['options'].get('fail'): raise RuntimeError('asked to fail')\n"
        "pathlib.Path(output_dir, 'summaries', 'second.json').write_text("
        "json.dumps({'double': first['seed'] * 2}))", [])], nbdir / "b_second.ipynb")
    path = tmp_path / "toy.yml"
    path.write_text(STUDY, encoding="utf-8")
    return path, nbdir


def test_run_executes_in_order_and_writes_results(toy, tmp_path):
    study, nbdir = toy
    out = tmp_path / "book" / "toy"
    lines = []
    run_study(study, out=out, notebooks_dir=nbdir, log=lines.append,
              overrides=["options.caliper=0.1"])
    assert sorted(p.name for p in out.iterdir()) == [".micromet-output", "a_first.ipynb",
                                                     "b_second.ipynb", "results.json",
                                                     "summaries"]
    results = json.loads((out / "results.json").read_text())
    assert results["first"] == {"caliper": 0.1, "seed": 3, "third": 0.333333}
    assert results["second"] == {"double": 6}
    assert results["study"]["name"] == "toy" and results["study"]["synthetic"] is True
    assert any("a_first" in line and " s" in line for line in lines)
    nb = nbformat.read(str(out / "a_first.ipynb"), as_version=4)
    assert "papermill" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert injected[0]["id"] == "injected-parameters"
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    assert nb.cells[2].outputs[0]["text"] == "3\n"


def test_run_is_byte_for_byte_deterministic(toy, tmp_path):
    study, nbdir = toy
    a = run_study(study, out=tmp_path / "one", notebooks_dir=nbdir, log=lambda m: None)
    b = run_study(study, out=tmp_path / "two", notebooks_dir=nbdir, log=lambda m: None)
    for name in ("a_first.ipynb", "b_second.ipynb", "results.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_failing_chapter_leaves_the_previous_output_untouched(toy, tmp_path):
    study, nbdir = toy
    out = tmp_path / "book" / "toy"
    run_study(study, out=out, notebooks_dir=nbdir, log=lambda m: None)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ChapterFailed, match="b_second.*asked to fail"):
        run_study(study, out=out, notebooks_dir=nbdir, log=lambda m: None,
                  overrides=["options.fail=true", "seed=4"])
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == after
    leftovers = [p.name for p in out.parent.iterdir() if p.name != "toy"]
    assert leftovers == []


def test_a_failing_first_run_writes_nothing(toy, tmp_path):
    study, nbdir = toy
    out = tmp_path / "book" / "toy"
    with pytest.raises(ChapterFailed):
        run_study(study, out=out, notebooks_dir=nbdir, log=lambda m: None,
                  overrides=["options.fail=true"])
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_missing_chapter_notebook_is_an_input_error(toy, tmp_path):
    study, nbdir = toy
    with pytest.raises(InputError, match="c_third"):
        run_study(study, out=tmp_path / "o", notebooks_dir=nbdir,
                  overrides=["chapters=[a_first, c_third]"])


def test_round_floats_and_dumps():
    assert round_floats({"a": 1 / 3, "b": [float("nan"), float("inf"), 2], "c": True}) == \
        {"a": 0.333333, "b": ["NaN", "Inf", 2], "c": True}
    assert dumps({"b": 1, "a": 0.1 + 0.2}) == '{\n  "a": 0.3,\n  "b": 1\n}\n'


def test_clean_notebook_is_idempotent(toy, tmp_path):
    study, nbdir = toy
    out = run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None)
    path = out / "a_first.ipynb"
    first = path.read_bytes()
    clean_notebook(path)
    assert path.read_bytes() == first


def test_cli_reports_bad_parameters(capsys):
    study = Path(__file__).resolve().parent.parent / "studies" / "seer_m0i.yml"
    code = main(["run", str(study), "--set", "matching.calipr=0.1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "matching.calipr" in err and "seer_m0i.yml" in err


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "book" in out and "synth" in out


def test_a_missing_data_file_is_refused_before_anything_runs(tmp_path, capsys):
    study = Path(__file__).resolve().parent.parent / "studies" / "seer_m0i.yml"
    code = main(["run", str(study), "--data", str(tmp_path / "absent.csv"),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "absent.csv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_bad_export_fails_its_chapter_with_file_column_row_value(tmp_path):
    from micromet import synth

    export = synth.synthetic_extract(20251, None, tmp_path / "cache", scale=0.01)
    import csv
    import io

    lines = export.read_bytes().decode("utf-8").split("\r\n")
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[3]]))
    fields[header.index("Sex")] = "Unknown sex label"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    lines[3] = buffer.getvalue()
    bad = tmp_path / "bad" / export.name
    bad.parent.mkdir()
    bad.write_bytes("\r\n".join(lines).encode("utf-8"))
    bad.with_suffix(".dic").write_bytes(export.with_suffix(".dic").read_bytes())
    # checked before any chapter runs (no kernel started): the named error itself
    with pytest.raises(InputError) as info:
        run_study(Path(__file__).resolve().parent.parent / "studies" / "seer_m0i.yml",
                  data=bad, out=tmp_path / "out", log=lambda m: None,
                  overrides=["chapters=[01_cohort]"])
    err = info.value
    assert err.file == str(bad) and err.column == "Sex" and err.row == 3
    assert err.value == "Unknown sex label"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "cache"]


def test_one_kernel_runs_every_chapter_and_each_notebook_counts_from_one(toy, tmp_path,
                                                                         monkeypatch):
    """With ``kernel=True`` a study's chapters share one kernel (micromet is imported once),
    which is stopped at the end; each executed notebook still numbers its cells from 1, as if
    run alone."""
    import os

    from micromet import kernels

    launched = []
    original = kernels.ChapterKernelManager._async_launch_kernel

    async def counting(self, kernel_cmd, **kw):
        launched.append(kernel_cmd)
        await original(self, kernel_cmd, **kw)

    monkeypatch.setattr(kernels.ChapterKernelManager, "_async_launch_kernel", counting)
    study, nbdir = toy
    notebook([('study = {}\noutput_dir = "."', ["parameters"]),
              ("import os\nprint(os.getpid())", [])], nbdir / "c_third.ipynb")
    out = run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None,
                    overrides=["chapters=[a_first, b_second, c_third]"], kernel=True)
    assert len(launched) == 1
    assert kernels._LIVE == set()  # stopped and reaped
    pid = int(nbformat.read(str(out / "c_third.ipynb"), as_version=4).cells[2]
              .outputs[0]["text"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    for name in ("a_first", "b_second", "c_third"):
        nb = nbformat.read(str(out / f"{name}.ipynb"), as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (name, counts)


SHOWCASE = [
    ('study = {}\noutput_dir = "."', ["parameters"]),
    ("print('one')\nprint('two', end='')\nprint(' three')", []),
    ("import pandas as pd\npd.DataFrame({'x': [1, 2], 'y': ['a', 'b']})", []),
    # a table wider than a terminal and a categorical with many levels: pandas formats them for
    # a notebook, not for the terminal micromet run was started from
    ("pd.DataFrame({f'column number {i}': [i, i + 1] for i in range(33)})", []),
    ("pd.Series(pd.Categorical([f'level {i}' for i in range(40)]))", []),
    ("from IPython.display import Markdown, display\ndisplay(Markdown('**bold** text'))", []),
    ("import sys\nprint('to stderr', file=sys.stderr)", []),
    ("import matplotlib.pyplot as plt\nfrom myst_nb import glue\nfig, ax = plt.subplots()\n"
     "ax.plot([1, 3, 2])\nglue('figure', fig, display=False)\nglue('n', 42)\nplt.close(fig)", []),
    ("import warnings\nwarnings.warn('careful', UserWarning)", []),
    ("value = 6 * 7", []),
    ("value", []),
]


def _outputs(folder):
    nb = nbformat.read(str(folder / "a_first.ipynb"), as_version=4)
    return [(c.execution_count, c.outputs) for c in nb.cells if c.cell_type == "code"]


def test_the_shell_gives_the_outputs_a_kernel_gives(toy, tmp_path):
    """The chapters run in this process by default (micromet.shell): streams, displayed data,
    glued figures and values, warnings and a cell's last value come out as a Jupyter kernel
    sends them, so a chapter's notebook is the same either way."""
    from IPython.core.interactiveshell import InteractiveShell

    study, nbdir = toy
    notebook(SHOWCASE, nbdir / "a_first.ipynb")
    runs = {}
    for kernel in (False, True):
        runs[kernel] = run_study(study, out=tmp_path / f"o{kernel}", notebooks_dir=nbdir,
                                 log=lambda m: None, overrides=["chapters=[a_first]"],
                                 kernel=kernel)
    shell_outputs, kernel_outputs = _outputs(runs[False]), _outputs(runs[True])
    assert len(shell_outputs) == len(kernel_outputs) == len(SHOWCASE) + 1  # + the injected
    for (count_s, out_s), (count_k, out_k) in zip(shell_outputs, kernel_outputs):
        assert count_s == count_k
        assert len(out_s) == len(out_k)
        for a, b in zip(out_s, out_k):
            if a.get("name") == "stderr" and "careful" in a["text"]:
                # a warning names where it came from: the cell's place differs
                assert a["text"].split(":", 2)[2:] == b["text"].split(":", 2)[2:]
            else:
                assert a == b
    kinds = [o["output_type"] for _, outs in shell_outputs for o in outs]
    assert kinds.count("display_data") == 3 and kinds.count("execute_result") == 4
    assert "application/papermill.record/image/png" in shell_outputs[8][1][0]["data"]
    wide = shell_outputs[4][1][0]["data"]
    assert "column number 32" in wide["text/html"] and "..." in wide["text/html"]  # 20 shown
    assert not InteractiveShell.initialized()  # no shell left behind in this process


def test_the_shell_runs_in_this_process_and_each_chapter_starts_afresh(toy, tmp_path):
    import os
    import sys

    import matplotlib

    study, nbdir = toy
    notebook([('study = {}\noutput_dir = "."', ["parameters"]),
              ("import os\nprint(os.getpid(), 'first' in globals())", []),
              # an object of the last chapter, also its cell's value (a kernel keeps it in Out)
              ("import builtins, weakref\nclass Frame: pass\nframe = Frame()\n"
               "builtins._micromet_probe = weakref.ref(frame)\nframe", [])],
             nbdir / "c_third.ipynb")
    backend, stdout, stderr = matplotlib.get_backend(), sys.stdout, sys.stderr
    rc = dict(matplotlib.rcParams)
    main, interactive = sys.modules["__main__"], hasattr(sys, "ps1")
    import gc

    frozen = gc.get_freeze_count()
    out = run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None,
                    overrides=["chapters=[a_first, b_second, c_third]"])
    pid, seen = nbformat.read(str(out / "c_third.ipynb"), as_version=4).cells[2] \
        .outputs[0]["text"].split()
    assert int(pid) == os.getpid()
    assert seen == "False"  # b_second's variable 'first' is not there
    assert (matplotlib.get_backend(), sys.stdout, sys.stderr) == (backend, stdout, stderr)
    assert dict(matplotlib.rcParams) == rc
    # what IPython changes in the process is put back; the last chapter's objects are freed
    assert sys.modules["__main__"] is main and hasattr(sys, "ps1") == interactive
    import builtins
    import gc

    assert gc.get_freeze_count() == frozen  # the heap frozen for the run is unfrozen

    gc.collect()
    probe = builtins.__dict__.pop("_micromet_probe")
    assert probe() is None
    assert "display" not in builtins.__dict__ and "__IPYTHON__" not in builtins.__dict__
    for name in ("a_first", "b_second", "c_third"):
        nb = nbformat.read(str(out / f"{name}.ipynb"), as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (name, counts)


def test_a_failing_cell_in_the_shell_stops_its_chapter_with_the_error(toy, tmp_path):
    study, nbdir = toy
    with pytest.raises(ChapterFailed, match="RuntimeError: asked to fail") as info:
        run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None,
                  overrides=["options={fail: true}"])
    nb = nbformat.read(str(info.value.notebook), as_version=4)
    error = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert error[0]["ename"] == "RuntimeError" and error[0]["evalue"] == "asked to fail"
    info.value.notebook.unlink()
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, kernel", [([], False), (["--kernel"], True)])
def test_micromet_run_uses_this_process_unless_asked_for_a_kernel(monkeypatch, flag, kernel):
    from micromet import cli, run

    calls = []
    monkeypatch.setattr(run, "run_study", lambda *a, **kw: calls.append(kw))
    assert cli.main(["run", "studies/seer_m0i.yml", *flag]) == 0
    assert calls[0]["kernel"] is kernel


# ---- two chapters at once (micromet.forked) -------------------------------------------------------

def needing(path, needs):
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["micromet"] = {"needs": needs}
    nbformat.write(nb, str(path))


@pytest.fixture
def pair(toy):
    """a_first; then b_second and c_third, which need only a_first; then d_last (needs all)."""
    study, nbdir = toy
    params = ('study = {}\noutput_dir = "."', ["parameters"])
    notebook([params, (
        "import json, os, pathlib, time\n"
        "(pathlib.Path(output_dir) / 'c_started').write_text(str(os.getpid()))\n"
        "if study['options'].get('slow'): time.sleep(120)\n"
        "if study['options'].get('fail_c'): raise ValueError('c asked to fail')\n"
        "first = json.loads(pathlib.Path(output_dir, 'summaries', 'first.json').read_text())\n"
        "pathlib.Path(output_dir, 'summaries', 'third.json').write_text("
        "json.dumps({'triple': first['seed'] * 3, 'pid': os.getpid()}))\n"
        "print('third', first['seed'] * 3)", [])], nbdir / "c_third.ipynb")
    notebook([params, (
        "import json, pathlib\n"
        "s = pathlib.Path(output_dir, 'summaries')\n"
        "print(sorted(p.name for p in s.iterdir()))", [])], nbdir / "d_last.ipynb")
    needing(nbdir / "b_second.ipynb", ["a_first"])
    needing(nbdir / "c_third.ipynb", ["a_first"])
    return study, nbdir, ["chapters=[a_first, b_second, c_third, d_last]"]


def test_chapters_that_do_not_need_each_other_run_at_once_with_the_same_outputs(pair, tmp_path):
    import os

    from micromet import forked

    if not forked.available():
        pytest.skip("forking chapters needs Linux and two CPUs: "
                    f"{os.sys.platform}, {forked.cpus()} CPU")
    study, nbdir, chapters = pair
    outputs, logs = {}, {}
    for parallel in (True, False):
        logs[parallel] = lines = []
        outputs[parallel] = run_study(study, out=tmp_path / f"o{parallel}", notebooks_dir=nbdir,
                                      log=lines.append, overrides=chapters, parallel=parallel)
    # c_third ran in another process, beside b_second, and only when parallel
    third = json.loads((outputs[True] / "summaries" / "third.json").read_text())
    assert third["pid"] != os.getpid()
    assert json.loads((outputs[False] / "summaries" / "third.json").read_text())["pid"] \
        == os.getpid()
    assert [line.split()[1] for line in logs[True][1:-1]] == ["a_first", "b_second", "c_third",
                                                              "d_last"]
    assert "beside the previous one" in logs[True][3] and not any(
        "beside" in line for line in logs[False])
    # the same notebooks, the same results (but for the process id)
    for name in ("a_first", "b_second", "c_third", "d_last"):
        a, b = (nbformat.read(str(outputs[p] / f"{name}.ipynb"), as_version=4) for p in
                (True, False))
        assert a == b, name
    ra, rb = (json.loads((outputs[p] / "results.json").read_text()) for p in (True, False))
    ra["third"].pop("pid"), rb["third"].pop("pid")
    assert ra == rb and ra["third"] == {"triple": 9}


def test_a_chapter_failing_beside_another_stops_the_run_with_its_error(pair, tmp_path):
    from micromet import forked

    if not forked.available():
        pytest.skip("forking chapters needs Linux and two CPUs")
    study, nbdir, chapters = pair
    with pytest.raises(ChapterFailed, match="ValueError: c asked to fail") as info:
        run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None,
                  overrides=[*chapters, "options={fail_c: true}"], parallel=True)
    assert info.value.chapter == "c_third"
    kept = info.value.notebook
    assert kept is not None and kept.is_file() and (kept.stat().st_mode & 0o777) == 0o600
    kept.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "toy.yml"]


def test_an_interruption_stops_the_chapter_running_beside_and_leaves_nothing(pair, tmp_path):
    import os
    import signal
    import threading
    import time

    from micromet import forked

    if not forked.available():
        pytest.skip("forking chapters needs Linux and two CPUs")
    study, nbdir, chapters = pair
    seen = {}

    def interrupt():  # once c_third has started in its own process
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = [p / "c_started" for p in tmp_path.iterdir() if ".run-" in p.name]
            if started and started[0].exists() and started[0].read_text():
                seen["pid"] = int(started[0].read_text())
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_study(study, out=tmp_path / "o", notebooks_dir=nbdir, log=lambda m: None,
                  overrides=[*chapters, "options={slow: true}"], parallel=True)
    timer.join()
    assert time.monotonic() - t0 < 60  # not the 120 s c_third would sleep
    assert seen["pid"] != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)  # killed and reaped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "toy.yml"]
