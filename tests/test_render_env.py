"""The Jinja2 environment the templates are rendered in (in-process): whitespace rules,
strict undefined values, no HTML escaping, the builtin/ prefix, and each error's text."""

import json

import pytest

from pyenvmod import resources
from pyenvmod.modules import render
from pyenvmod.records import metadata
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site-templates"
    folder.mkdir()
    return folder


def test_template_dirs_put_configured_folders_first(site, tmp_path):
    assert render.template_dirs([str(site), tmp_path]) == [site, tmp_path, resources.data_dir("templates")]
    assert render.template_dirs() == [resources.data_dir("templates")]


def test_block_tags_leave_no_blank_lines_and_the_last_newline_is_kept(site):
    (site / "t.j2").write_text("a\n  {% if true %}\nb\n  {% endif %}\nc\n")
    assert render.render_template("t.j2", {}, render.environment([site])) == "a\nb\nc\n"


def test_values_are_not_html_escaped(site):
    (site / "t.j2").write_text("{{ v }}|{{ v | lua }}")
    assert render.render_template("t.j2", {"v": "<&>'"}, render.environment([site])) == "<&>'|\"<&>'\""


def test_a_site_template_overrides_a_builtin_and_can_extend_it(site):
    (site / "modulefile.lua.j2").write_text('{% extends "builtin/modulefile.lua.j2" %}'
                                            '{% block footer %}-- site footer\n{% endblock %}')
    from test_render import record
    from pyenvmod.modules import modulefiles

    ctx = modulefiles.context(record())
    text = render.render(render.LUA, ctx, render.environment([site]))
    assert text.endswith("-- site footer\n") and 'pushenv("VIRTUAL_ENV", prefix)' in text
    assert not render.render(render.LUA, ctx).endswith("-- site footer\n")


def test_an_undefined_value_is_an_error_naming_the_template(site):
    (site / "t.j2").write_text("x {{ missing }}\n")
    with pytest.raises(PyenvmodError) as exc:
        render.render_template("t.j2", {}, render.environment([site]))
    assert exc.value.message == f"template {site / 't.j2'}: 'missing' is undefined; fix or remove it"


def test_a_syntax_error_names_file_and_line(site):
    (site / "t.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(PyenvmodError) as exc:
        render.render_template("t.j2", {}, render.environment([site]))
    assert exc.value.message.startswith(f"template {site / 't.j2'}:2: ")
    assert exc.value.message.endswith("; fix or remove it")


def test_a_missing_template_names_where_it_was_looked_for():
    with pytest.raises(PyenvmodError) as exc:
        render.render_template("nope.j2", {})
    assert exc.value.message == f"template nope.j2 not found in {resources.data_dir('templates')}"


def test_a_value_a_filter_refuses_names_the_template(site):
    (site / "t.j2").write_text("{{ v | line }}")
    with pytest.raises(PyenvmodError) as exc:
        render.render_template("t.j2", {"v": "a\nb"}, render.environment([site]))
    assert exc.value.message == ("cannot write t.j2: a line break or NUL cannot be written into a key=value "
                                 "line: 'a\\nb'")


def test_format_file_names():
    assert render.LUA.filename("py3.12") == "py3.12.lua" and render.TCL.filename("py3.12") == "py3.12"
    assert render.FORMATS == {"lua": render.LUA, "tcl": render.TCL}


def test_a_record_is_written_as_indented_utf8_json(tmp_path):
    from test_records import record

    rec = record(description="Größe")
    text = rec.to_json()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert '\n  "name": "mylab",\n' in text and "Größe" in text
    path = tmp_path / "mylab.json"
    metadata.write(path, rec)
    assert path.read_bytes() == text.encode("utf-8")
