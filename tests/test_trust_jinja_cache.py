"""Issue 22, hole 12: compiled templates are kept in the user's private cache folder, never in
Jinja2's default /tmp/_jinja2-cache-UID, where another user may plant a link that Jinja2 chmods
before it checks. A link (or another user's folder) at the cache's name: templates still render,
compiled each time, and nothing is changed through the link."""

import os
import stat

from pyenvmod.modules import render


def _render(text_name="stage-launcher.sh.j2"):
    context = {"name": "e", "prefix": "/p", "copy_id": "e-0123456789", "stamp_file": "/s", "site_packages": "/x",
               "stage_dir": ""}
    return render.render_template(text_name, context, render.environment())


def test_compiled_templates_go_to_the_users_private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = render.environment()
    folder = tmp_path / "cache" / "pyenvmod" / "jinja"
    assert env.bytecode_cache.directory == str(folder)
    for made in (folder, folder.parent, folder.parent.parent):  # the user's own cache: made 0700 if missing
        assert stat.S_IMODE(os.lstat(made).st_mode) == 0o700
    text = _render()
    assert text.startswith("#!/bin/sh") and any(folder.iterdir())  # a compiled template was kept


def test_a_link_at_the_cache_folder_is_never_used_nor_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = tmp_path / "victim"
    target.mkdir()
    os.chmod(target, 0o755)
    (tmp_path / "cache" / "pyenvmod").mkdir(parents=True)
    (tmp_path / "cache" / "pyenvmod" / "jinja").symlink_to(target)
    assert render.environment().bytecode_cache is None
    assert _render().startswith("#!/bin/sh")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755 and list(target.iterdir()) == []
