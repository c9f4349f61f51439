"""`lawline models fetch` and `status` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from lawline.cli import app

runner = CliRunner()

MODEL_FILES = {
    "mymodel/am/final.mdl": b"not really an acoustic model",
    "mymodel/conf/model.conf": b"--sample-frequency=16000\n",
    "mymodel/graph/words.txt": b"<eps> 0\n",
}


class Handler(SimpleHTTPRequestHandler):
    """Serves the test's directory; `/cut/NAME` announces NAME's full size but sends
    half, `/unsized/NAME` sends it without Content-Length (ended by closing)."""

    def do_GET(self) -> None:
        kind, _, name = self.path.lstrip("/").partition("/")
        if kind not in ("cut", "unsized"):
            super().do_GET()
            return
        data = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        if kind == "cut":
            self.send_header("Content-Length", str(len(data)))
            data = data[: len(data) // 2]
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, directory it serves) of an HTTP server of this test's own."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def make_zip(path: Path, files: dict[str, bytes]) -> int:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path.stat().st_size


def lawline(data_dir: Path, url: str, *args: str) -> Result:
    env = {
        "LAWLINE_DATA_DIR": str(data_dir),
        "LAWLINE_TRANSCRIPTS__MODEL_URL": url,
        "LAWLINE_TRANSCRIPTS__MODEL_PATH": None,
        "LAWLINE_TRANSCRIPTS__MODEL_SIZE": None,
        "LAWLINE_CONFIG": None,
    }
    return runner.invoke(app, ["models", *args], env=env)


def models_dir_entries(data_dir: Path) -> list[str]:
    models = data_dir / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_fetch_installs_a_valid_model(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir, url = tmp_path / "var", f"{base}/mymodel.zip"

    before = lawline(data_dir, url, "status")
    assert before.exit_code == 1
    assert "valid Vosk model: no" in before.output

    result = lawline(data_dir, url, "fetch")
    assert result.exit_code == 0, result.output
    model = data_dir / "models" / "mymodel"
    assert f"Vosk model installed at {model}" in result.stdout
    assert "warning" not in result.output  # Content-Length was there to check
    assert (model / "am" / "final.mdl").read_bytes() == MODEL_FILES["mymodel/am/final.mdl"]
    assert (model / "graph" / "words.txt").is_file()
    assert models_dir_entries(data_dir) == ["mymodel"]  # no .download-*/.unpack-* left

    status = lawline(data_dir, url, "status")
    assert status.exit_code == 0
    assert f"model path: {model}" in status.stdout
    assert "valid Vosk model: yes" in status.stdout
    assert f"model url: {url}" in status.stdout


def test_fetch_twice_keeps_the_model_unless_forced(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = served
    size = make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir, url = tmp_path / "var", f"{base}/mymodel.zip"
    assert lawline(data_dir, url, "fetch", "--size", str(size)).exit_code == 0
    marker = data_dir / "models" / "mymodel" / "local-note"
    marker.write_text("kept")

    again = lawline(data_dir, url, "fetch")
    assert again.exit_code == 0
    assert "already" in again.stdout
    assert marker.exists()

    forced = lawline(data_dir, url, "fetch", "--force")
    assert forced.exit_code == 0, forced.output
    assert "installed" in forced.stdout
    assert not marker.exists()  # a fresh copy of the zip's model
    assert (data_dir / "models" / "mymodel" / "am" / "final.mdl").is_file()
    assert models_dir_entries(data_dir) == ["mymodel"]  # the old copy is gone too


def test_wrong_size_fails_and_leaves_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    size = make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir, url = tmp_path / "var", f"{base}/mymodel.zip"

    result = lawline(data_dir, url, "fetch", "--size", str(size + 1))
    assert result.exit_code == 2
    assert f"error: size mismatch: expected {size + 1} bytes" in result.stderr
    assert "Traceback" not in result.output
    assert models_dir_entries(data_dir) == []


def test_truncated_download_fails_and_leaves_nothing(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = served
    size = make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir = tmp_path / "var"
    # The configured model_path names the model, whatever the URL's last segment.
    url = f"{base}/cut/mymodel.zip"

    result = lawline(data_dir, url, "fetch")
    assert result.exit_code == 2
    assert f"error: size mismatch: expected {size} bytes from {url}, received only" in (
        result.stderr
    )
    assert models_dir_entries(data_dir) == []


def test_unknown_size_is_accepted_with_a_warning(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir = tmp_path / "var"

    result = lawline(data_dir, f"{base}/unsized/mymodel.zip", "fetch")
    assert result.exit_code == 0, result.output
    assert "warning: the size could not be checked" in result.stderr
    assert "valid Vosk model: yes" in lawline(data_dir, base + "/mymodel.zip", "status").stdout


def test_zip_slip_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "evil.zip", {**MODEL_FILES, "mymodel/../../evil": b"owned"})
    data_dir = tmp_path / "var"

    result = lawline(data_dir, f"{base}/evil.zip", "fetch")
    assert result.exit_code == 2
    assert "refused: zip member 'mymodel/../../evil'" in result.stderr
    assert not (tmp_path / "evil").exists()
    assert not (data_dir / "evil").exists()
    assert models_dir_entries(data_dir) == []


def test_zip_without_acoustic_model_is_not_a_vosk_model(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = served
    make_zip(www / "mymodel.zip", {"mymodel/conf/model.conf": b"x"})
    data_dir, url = tmp_path / "var", f"{base}/mymodel.zip"

    result = lawline(data_dir, url, "fetch")
    assert result.exit_code == 2
    assert f"error: {url} is not a Vosk model: mymodel/ in the zip has no am/final.mdl" in (
        result.stderr
    )
    assert models_dir_entries(data_dir) == []


def test_model_files_at_the_top_of_the_zip_are_accepted(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = served
    flat = {name.removeprefix("mymodel/"): data for name, data in MODEL_FILES.items()}
    make_zip(www / "flat.zip", flat)
    data_dir, url = tmp_path / "var", f"{base}/flat.zip"

    assert lawline(data_dir, url, "fetch").exit_code == 0
    assert lawline(data_dir, url, "status").exit_code == 0
    assert (data_dir / "models" / "flat" / "conf" / "model.conf").is_file()


def test_not_a_zip_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    (www / "mymodel.zip").write_text("<html>a captive portal</html>")
    data_dir = tmp_path / "var"

    result = lawline(data_dir, f"{base}/mymodel.zip", "fetch")
    assert result.exit_code == 2
    assert "error: the download is not a usable zip file" in result.stderr
    assert models_dir_entries(data_dir) == []


def test_http_404_is_a_clear_error(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    url = f"{base}/nothing-here.zip"

    result = lawline(tmp_path / "var", url, "fetch")
    assert result.exit_code == 2
    assert f"error: {url}: HTTP 404 File not found" in result.stderr
    assert "Traceback" not in result.output
    assert models_dir_entries(tmp_path / "var") == []


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    # A port that was just free: nothing listens there.
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as probe:
        port = probe.server_address[1]
    url = f"http://127.0.0.1:{port}/mymodel.zip"

    result = lawline(tmp_path / "var", url, "fetch")
    assert result.exit_code == 2
    assert f"error: cannot fetch {url}: [Errno 111] Connection refused" in result.stderr


def test_an_existing_broken_model_needs_force(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "mymodel.zip", MODEL_FILES)
    data_dir, url = tmp_path / "var", f"{base}/mymodel.zip"
    (data_dir / "models" / "mymodel" / "conf").mkdir(parents=True)

    refused = lawline(data_dir, url, "fetch")
    assert refused.exit_code == 2
    assert "is not a Vosk model (no am/final.mdl); use --force to replace it" in refused.stderr

    forced = lawline(data_dir, url, "fetch", "--force")
    assert forced.exit_code == 0, forced.output
    assert "valid Vosk model: yes" in lawline(data_dir, url, "status").stdout
