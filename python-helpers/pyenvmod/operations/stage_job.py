"""'pyenvmod stage NAME' in a job script: stage on every node of the allocation at once.

In a batch script or an salloc shell (SLURM_JOB_ID set, not inside a step) one command does
what 'srun --ntasks-per-node=1 -n $SLURM_NNODES pyenvmod stage NAME' did, reading each image
from the shared file system once per job instead of once per node:

  1. the image is made current here (packed when needed, once);
  2. 'sbcast' copies it into the stage folder of every node (Slurm reads it once and forwards it
     through its tree of slurmds) under a name of this job only;
  3. one 'srun' step of one task per node runs 'pyenvmod stage --node-step', which unpacks the
     broadcast copy on its node (today's stage, the image taken from the node's disk) and reports
     one JSON line;
  4. here: one line per node and a summary per environment.

The site chooses the transport (stage_transport: sbcast | shared). Without sbcast, or when it
fails, the nodes read the shared image themselves (said in one line). A node that fails runs
python from the shared copy, as without staging. The exit status is 0 when every environment
was staged on at least one node.
"""

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

from pyenvmod.errors import PyenvmodError

NODE_STEP_TIMEOUT = 3600  # one srun step: unpacking on every node
SBCAST_TIMEOUT = 3600
MARKER = ".node-"  # a node's mark in its stage folder: another node's mark there means the folder is shared


def job_without_step(environ=os.environ) -> bool:
    """Inside an allocation (batch script, salloc shell) but not inside a job step (srun).
    Slurm sets SLURM_STEP_ID only in steps; the batch and interactive steps have
    SLURM_STEP_ID of 4294967290 and above, or none."""
    if not environ.get("SLURM_JOB_ID"):
        return False
    step = environ.get("SLURM_STEP_ID", environ.get("SLURM_STEPID", ""))
    return not step.isdigit() or int(step) >= 0xFFFFFFFA


def _user() -> str:
    from pyenvmod.staging import user

    return user()


def broadcast_name(prefix: str, name: str) -> str:
    return f"{prefix}-{name}.tar.zst"


class Driver:
    """Stage (or clean) environments on every node of this allocation."""

    def __init__(self, config, out=print, err=None):
        self.config = config
        self.out = out
        self.err = err or (lambda m: print(f"pyenvmod: {m}", file=sys.stderr))
        self.nodes = int(os.environ.get("SLURM_NNODES") or os.environ.get("SLURM_JOB_NUM_NODES") or 1)

    # -- the steps -------------------------------------------------------------------------
    def _command(self, *args) -> list:
        from pyenvmod.config import GROUP

        group = ["--group", GROUP["spec"]] if GROUP.get("spec") else []
        return [sys.executable, "-m", "pyenvmod", *group, "stage", "--node-step", *args]

    def _srun(self, args: list) -> tuple[list, str]:
        """One step of one task per node. Returns (the nodes' JSON records, the last error line or '')."""
        n = str(self.nodes)
        cmd = ["srun", "--overlap", "--ntasks-per-node=1", "-N", n, "-n", n, "--kill-on-bad-exit=0",
               "--quiet", *self._command(*args)]
        try:
            result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    timeout=NODE_STEP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [], f"srun did not run ({exc})"
        records, other = [], []
        for line in result.stdout.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                other.append(line)
                continue
            if isinstance(record, dict) and "node" in record:
                records.append(record)
        for line in result.stderr.splitlines():  # the nodes' warnings (no space, ...): as they are
            if line.startswith("pyenvmod:"):
                sys.stderr.write(line + "\n")
        problem = ""
        if result.returncode != 0 and not records:
            lines = [ln for ln in result.stderr.splitlines() if ln.strip()] or other or [f"exit {result.returncode}"]
            problem = lines[-1].strip()
        return records, problem

    def _sbcast(self, image: Path, dest: str) -> str:
        """Copy ``image`` to ``dest`` on every node. Returns '' or why not."""
        fanout = os.environ.get("SBCAST_FANOUT")
        cmd = ["sbcast", *(["--fanout", fanout] if fanout else []), str(image), dest]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=SBCAST_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if result.returncode != 0:
            return ([ln for ln in result.stderr.splitlines() if ln.strip()] or [f"exit {result.returncode}"])[-1]
        return ""

    # -- stage -----------------------------------------------------------------------------
    def stage(self, names: list) -> int:
        from pyenvmod.operations import pack as pack_op
        from pyenvmod.staging import stage_dir

        started = time.monotonic()
        ready = []
        for name in dict.fromkeys(names):
            try:
                _, image = pack_op.pack(self.config, name, timeout=pack_op.PACK_TIMEOUT,
                                        notify=lambda m: self.err(m))
                ready.append((name, image))
            except PermissionError as exc:
                self.err(f"error: cannot stage {name!r}: its image is missing or old and you may not write "
                         f"{exc.filename}; ask its owner to run 'pyenvmod pack {name}'. The job runs it from "
                         "the shared copy")
            except PyenvmodError as exc:
                self.err(f"error: cannot stage {name!r}: {exc}. The job runs it from the shared copy")
        if not ready:
            return 1
        transport = self.config["stage_transport"]
        prefix = ""
        if transport == "sbcast":
            if not shutil.which("sbcast"):
                self.err("sbcast not found: every node reads the image from the shared file system instead")
            else:
                prefix = os.path.join(stage_dir(self.config), f".pyenvmod-{_user()}-bcast-"
                                      f"{os.environ.get('SLURM_JOB_ID', '0')}-{secrets.token_hex(4)}")
                for name, image in ready:
                    why = self._sbcast(image, broadcast_name(prefix, name))
                    if why:
                        self.err(f"sbcast of {name!r} failed ({why}): the nodes without the copy read the image "
                                 "from the shared file system instead")
        records, problem = self._srun(["--broadcast", prefix, *[n for n, _ in ready]] if prefix
                                      else [n for n, _ in ready])
        if problem:
            self.err(f"error: could not start the staging step on the nodes of job "
                     f"{os.environ.get('SLURM_JOB_ID')} ({problem}); the job runs from the shared copy")
            return 1
        return self._report([n for n, _ in ready], records, time.monotonic() - started, names)

    def _report(self, ready: list, records: list, seconds: float, asked: list) -> int:
        shared_folder = sorted({r["folder"] for r in records if r.get("shared_folder")})
        for folder in shared_folder:
            self.err(f"warning: the stage folder {folder} is the same folder on several nodes (a shared file "
                     "system): staging gains nothing there; set stage_dir to a node-local disk")
        code = 0 if len(ready) == len(dict.fromkeys(asked)) else 1
        for name in ready:
            mine = sorted((r for r in records if r.get("name") == name), key=lambda r: r["node"])
            staged = 0
            for r in mine:
                if r["action"] in ("staged", "reused"):
                    staged += 1
                    what = "staged" if r["action"] == "staged" else "already staged"
                    via = " from the broadcast copy" if r.get("via") == "broadcast" else \
                        " from the shared image" if r["action"] == "staged" else ""
                    self.out(f"  {r['node']}: {what} in {r['seconds']:.2f} s{via}: {r['copy']}")
                else:
                    self.out(f"  {r['node']}: failed ({r.get('error') or r['action']}); runs from the shared copy")
            failed = self.nodes - staged
            self.out(f"Staged {name!r} on {staged} node{'' if staged == 1 else 's'} in {seconds:.1f} s; "
                     f"{failed} failed")
            if not staged:
                code = 1
        return code

    # -- clean -----------------------------------------------------------------------------
    def clean(self, names: list) -> int:
        records, problem = self._srun(["--clean", *dict.fromkeys(names)])
        if problem:
            self.err(f"error: could not start the cleaning step on the nodes of job "
                     f"{os.environ.get('SLURM_JOB_ID')} ({problem})")
            return 1
        code = 0
        for name in dict.fromkeys(names):
            mine = sorted((r for r in records if r.get("name") == name), key=lambda r: r["node"])
            done = 0
            for r in mine:
                if r["action"] == "cleaned":
                    done += 1
                    self.out(f"  {r['node']}: removed {r['removed']} cop{'y' if r['removed'] == 1 else 'ies'}")
                else:
                    self.out(f"  {r['node']}: failed ({r.get('error')})")
            self.out(f"Cleaned {name!r} on {done} node{'' if done == 1 else 's'}; {self.nodes - done} failed")
            code = code or (0 if done == self.nodes else 1)
        return code


# -- on each node (the srun step) ----------------------------------------------------------
def _own_file(path: str) -> bool:
    """A regular file of ours, not a link: what sbcast wrote for us (anything else is ignored)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def _whole(config, name: str, image: str) -> bool:
    """The broadcast copy has the size of the shared image (a stat, no read): an sbcast that failed on
    some nodes may have left others a part of it."""
    from pyenvmod.operations.common import layout_for
    from pyenvmod.staging import IMAGE_FORMATS, images_dir

    try:
        shared = images_dir(layout_for(config), name) / IMAGE_FORMATS["tar"]
        return os.lstat(image).st_size == os.stat(shared).st_size
    except (OSError, PyenvmodError):
        return False


def _mark(root: Path) -> str:
    """Mark this node in its stage folder (marks of jobs a day old go). Returns the mark's name."""
    from pyenvmod.trust import files

    job = os.environ.get("SLURM_JOB_ID", "0")
    node = os.environ.get("SLURMD_NODENAME") or os.uname().nodename
    mine = f"{MARKER}{job}.{node}"
    files.write_atomic(root / mine, "", inside=root, mode=0o600)
    for old in os.listdir(root):
        if old.startswith(MARKER) and not old.startswith(f"{MARKER}{job}."):
            try:
                if time.time() - os.lstat(root / old).st_mtime > 86400:
                    files.remove_inside(root / old, root)
            except OSError:
                pass
    return mine


def _marked_by_others(root: Path, mine: str) -> bool:
    """Another node of this job marked this stage folder: it is shared between nodes."""
    job = os.environ.get("SLURM_JOB_ID", "0")
    try:
        return any(n.startswith(f"{MARKER}{job}.") and n != mine for n in os.listdir(root))
    except OSError:
        return False


def node_step(config, names: list, prefix: str = "", clean: bool = False) -> int:
    """One task on each node: stage (or clean) ``names`` here, one JSON line per name on stdout.
    A broadcast copy (``prefix``-NAME.tar.zst, a regular file of ours) is unpacked and removed;
    without one the node reads the shared image, as 'pyenvmod stage' inside a step does."""
    from pyenvmod.trust import files
    from pyenvmod.operations import stage as stage_op
    from pyenvmod.staging import ensure_private_dir, stage_root

    node = os.environ.get("SLURMD_NODENAME") or os.uname().nodename
    root = stage_root(config)
    records, mine = [], ""
    warn = lambda m: print(f"pyenvmod: warning: {m}", file=sys.stderr)  # noqa: E731
    for name in names:
        record = {"node": node, "name": name, "folder": str(root)}
        image = broadcast_name(prefix, name) if prefix else ""
        try:
            if clean:
                record.update(action="cleaned", removed=len(stage_op.clean(config, name)))
            else:
                ensure_private_dir(root)
                mine = mine or _mark(root)
                result = None
                if image and _own_file(image) and _whole(config, name, image):
                    try:
                        result = dict(stage_op.stage(config, name, warn=warn, image_file=Path(image)), via="broadcast")
                    except PyenvmodError:
                        result = None  # a broken copy (an sbcast that failed half-way): the shared image
                if result is None:
                    result = dict(stage_op.stage(config, name, warn=warn), via="shared")
                record.update(action=result["action"], seconds=result["seconds"], copy=result["copy"],
                              via=result["via"])
                if result["action"].startswith("no-space"):
                    record["error"] = f"no space left in {root}"
        except (PyenvmodError, OSError) as exc:
            record.update(action="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        finally:
            if image and _own_file(image):
                try:
                    files.remove_inside(Path(image), Path(os.path.dirname(image)))
                except (PyenvmodError, OSError):
                    pass
        records.append(record)
    shared = bool(mine) and _marked_by_others(root, mine)
    for record in records:
        print(json.dumps(dict(record, shared_folder=shared)), flush=True)
    return 0 if any(r["action"] in ("staged", "reused", "cleaned") for r in records) else 1
