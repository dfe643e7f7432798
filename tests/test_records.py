"""Metadata records: what metadata.read accepts, and the one-line error for each way a
record can be wrong (in-process), plus what `list` makes of them."""

import json

import pytest

from conftest import assert_one_line_error
from pyenvmod.records import metadata
from pyenvmod.errors import PyenvmodError

FIX = "repair it by hand or delete it and run 'pyenvmod doctor'"


def record(**overrides) -> metadata.EnvRecord:
    values = dict(name="mylab", prefix="/data/envs/mylab", python="3.12.1", base_python="/usr/bin/python3.12",
                  backend="uv", module="pyenv/mylab/py3.12", created="2026-11-24T10:00:00+00:00", owner="alice",
                  platform="x86_64-debian12")
    values.update(overrides)
    return metadata.EnvRecord(**values)


def test_write_then_read_gives_the_same_record(tmp_path):
    rec = record(description="Ünïcode & \"quotes\"", packages={"six": "1.16.0"}, modules=["gcc/13.2"],
                 extends={"name": "base", "prefix": "/data/envs/base", "module": "pyenv/base/py3.12",
                          "modules_dir": "/data/modules", "python": "3.12.1"}, adopted=True)
    path = tmp_path / "mylab.json"
    metadata.write(path, rec)
    assert metadata.read(path) == rec
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and "Ünïcode" in text, "UTF-8 as written, one record per file"
    assert json.loads(text)["schema"] == metadata.SCHEMA_VERSION == 1
    assert [p.name for p in tmp_path.iterdir()] == ["mylab.json"], "no temporary file left beside it"


def test_tag_is_the_last_part_of_the_module_name():
    assert record(module="pyenv/mylab/py3.12").tag == "py3.12"
    assert record(module="py3.11").tag == "py3.11"


def test_a_record_from_a_newer_pyenvmod_reads_with_its_known_keys(tmp_path):
    data = record(description="kept").to_dict()
    data.update(schema=2, gpu_arch="sm_90", staging={"state": "done"})
    path = tmp_path / "mylab.json"
    path.write_text(json.dumps(data))
    got = metadata.read(path)
    assert got == record(description="kept", schema=2)
    assert not hasattr(got, "gpu_arch")


def test_optional_keys_may_be_missing(tmp_path):
    data = {k: v for k, v in record().to_dict().items() if k in (
        "name", "prefix", "python", "base_python", "backend", "module", "created", "owner", "platform")}
    path = tmp_path / "mylab.json"
    path.write_text(json.dumps(data))
    got = metadata.read(path)
    assert got == record() and got.packages == {} and got.adopted is False and got.extends is None


@pytest.mark.parametrize("missing", ["name", "prefix", "python", "base_python", "backend", "module", "created",
                                     "owner", "platform"])
def test_a_record_without_a_required_key_is_corrupt(tmp_path, missing):
    data = record().to_dict()
    del data[missing]
    path = tmp_path / "mylab.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is incomplete or corrupt (missing {missing}); {FIX}"


@pytest.mark.parametrize("text", ['["name", "mylab"]', '"mylab"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_corrupt(tmp_path, text):
    path = tmp_path / "mylab.json"
    path.write_text(text)
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is corrupt: not a JSON object; {FIX}"


@pytest.mark.parametrize("content", [b'{"name": "mylab", "pre', b"", b"\xff\xfe{}", b"{'name': 'mylab'}"])
def test_unreadable_json_names_the_file_and_the_fix(tmp_path, content):
    path = tmp_path / "mylab.json"
    path.write_bytes(content)
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    message = exc.value.message
    assert message.startswith(f"metadata file {path} is corrupt: unreadable JSON (") and message.endswith(f"); {FIX}")


def test_a_folder_in_place_of_the_record_is_unreadable(tmp_path):
    path = tmp_path / "mylab.json"
    path.mkdir()
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is not a regular file; remove it; {FIX}"


def test_a_missing_record_is_not_an_error_of_its_own(tmp_path):
    with pytest.raises(FileNotFoundError):
        metadata.read(tmp_path / "gone.json")


@pytest.mark.parametrize("inside", ["other", "mylab.json", "MyLab", ""])
def test_a_name_that_differs_from_the_file_name_is_refused(tmp_path, inside):
    path = tmp_path / "mylab.json"
    metadata.write(path, record(name=inside))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} describes {inside!r}, not 'mylab'; {FIX}"


def test_list_shows_a_newer_record_as_healthy_and_a_renamed_one_as_broken(cli, root):
    cli("create", "alpha")
    cli("create", "beta")
    alpha = next(root.glob("*/meta/alpha.json"))
    data = json.loads(alpha.read_text())
    data["from_the_future"] = [1, 2, 3]
    alpha.write_text(json.dumps(data))
    beta = next(root.glob("*/meta/beta.json"))
    beta.write_text(beta.read_text().replace('"name": "beta"', '"name": "alpha"'))
    entries = {e["name"]: e for e in json.loads(cli("list", "--json").stdout)}
    assert entries["alpha"]["health"] == "ok"
    assert entries["beta"]["health"] == "broken" and "describes 'alpha', not 'beta'" in entries["beta"]["problems"][0]
    assert_one_line_error(cli("module", "beta", check=False), str(beta), "describes 'alpha'")


def test_every_record_field_has_a_schema_entry():
    """A field added to EnvRecord without a type check would make every record unreadable."""
    from pyenvmod.records.metadata import FIELDS, SCHEMA

    assert set(FIELDS) == set(SCHEMA)


def test_a_record_with_an_mpi_reads_back(tmp_path):
    from pyenvmod.records import metadata

    rec = metadata.EnvRecord(name="sim", prefix="/data/envs/sim", python="3.12.1", base_python="/usr/bin/python3",
                             backend="uv", module="pyenv/sim/py3.12", created="2026-01-01T00:00:00+00:00",
                             owner="me", platform="p",
                             mpi={"module": "mpich/4.0", "mpicc": "/usr/bin/mpicc", "library": "/usr/lib/libmpi.so.12",
                                  "version": "MPICH Version: 4.0", "flavor": "mpich", "identity": "0123456789abcdef"})
    path = tmp_path / "sim.json"
    path.write_text(rec.to_json())
    assert metadata.read(path).mpi == rec.mpi
    path.write_text(rec.to_json().replace('"flavor": "mpich"', '"flavor": 3'))
    with pytest.raises(PyenvmodError, match="mpi"):
        metadata.read(path)


# --- the record class itself, and every message parse gives (each names the file and the fix) ------

def test_records_are_equal_field_by_field_only():
    assert record() == record()
    assert record() != record(owner="bob")
    assert record(packages={"six": "1"}) != record(packages={"six": "2"})
    assert record() != record().to_dict()
    assert record() != object()


def test_a_record_is_shown_with_its_fields_and_copied_with_changes():
    rec = record(packages={"six": "1.16.0"})
    shown = repr(rec)
    assert shown.startswith("EnvRecord(name='mylab', prefix='/data/envs/mylab'") and "packages={'six': '1.16.0'}" in shown
    moved = rec.replace(name="other", prefix="/data/envs/other")
    assert (moved.name, moved.prefix, moved.packages) == ("other", "/data/envs/other", {"six": "1.16.0"})
    moved.packages["numpy"] = "2.0"
    assert rec.packages == {"six": "1.16.0"}, "a copy shares no list or mapping with its original"
    with pytest.raises(TypeError, match="no field colour, size$"):
        metadata.EnvRecord(**rec.to_dict(), size=3, colour="blue")
    values = rec.to_dict()
    del values["owner"]
    with pytest.raises(TypeError, match="^EnvRecord needs owner$"):
        metadata.EnvRecord(**values)


def test_list_and_mapping_defaults_are_never_shared():
    first, second = record(), record()
    first.requested.append("numpy")
    first.packages["numpy"] = "2.0"
    assert second.requested == [] and second.packages == {}
    assert metadata.FIELDS["requested"] == [] and metadata.FIELDS["packages"] == {}


def write_json(tmp_path, data) -> object:
    path = tmp_path / "mylab.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_unreadable_json_is_named_with_the_parsers_reason(tmp_path):
    path = write_json(tmp_path, '{"name": ')
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message.startswith(f"metadata file {path} is corrupt: unreadable JSON (Expecting value: line 1")
    assert exc.value.message.endswith(f"); {FIX}")


def test_json_nested_too_deeply_is_named_so(tmp_path):
    path = write_json(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is corrupt: unreadable JSON (nested too deeply); {FIX}"


def test_a_text_where_a_list_belongs_is_refused(tmp_path):
    path = write_json(tmp_path, dict(record().to_dict(), requested="numpy"))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is corrupt: requested must be a list of texts; {FIX}"


@pytest.mark.parametrize("field, value", [
    ("requested", ["numpy", "scipy\x1b[31m"]),  # in a list
    ("packages", {"six": "1.16.0\x07"}),  # a mapping's value
    ("sources", {"evil\x00": "evil @ file:///x"}),  # a mapping's key
    ("name", "mylab\t"),  # a tab: only a description may hold one
])
def test_control_characters_anywhere_in_a_field_are_refused(tmp_path, field, value):
    path = write_json(tmp_path, dict(record().to_dict(), **{field: value}))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path}: {field} holds control characters; {FIX}"


def test_a_description_may_hold_tabs_and_line_breaks_but_no_escape(tmp_path):
    path = write_json(tmp_path, dict(record().to_dict(), description="line one\n\tline two"))
    assert metadata.read(path).description == "line one\n\tline two"
    path = write_json(tmp_path, dict(record().to_dict(), description="bell\x07"))
    with pytest.raises(PyenvmodError, match="description holds control characters"):
        metadata.read(path)


def test_a_module_name_that_is_not_the_layouts_is_refused(tmp_path):
    path = write_json(tmp_path, dict(record().to_dict(), module="pyenv/other/py3.12"))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path}: module must be pyenv/mylab/py3.12; {FIX}"


def test_a_base_whose_python_is_no_version_is_refused(tmp_path):
    extends = {"name": "base", "prefix": "/data/envs/base", "module": "pyenv/base/py3.12",
               "modules_dir": "/data/modules", "python": "../../etc"}
    path = write_json(tmp_path, dict(record().to_dict(), extends=extends))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path}: extends.python must be a Python version; {FIX}"


def test_an_invalid_name_inside_is_named_with_the_file(tmp_path):
    path = tmp_path / "..json"
    path.write_text(json.dumps(dict(record().to_dict(), name=".")))
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message.startswith(f"metadata file {path}: ") and "name" in exc.value.message


def test_every_missing_required_key_is_named(tmp_path):
    data = record().to_dict()
    del data["owner"], data["created"]
    path = write_json(tmp_path, data)
    with pytest.raises(PyenvmodError) as exc:
        metadata.read(path)
    assert exc.value.message == f"metadata file {path} is incomplete or corrupt (missing created, owner); {FIX}"
