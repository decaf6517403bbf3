#!/usr/bin/env python3
"""Validate every FHIR resource type yiwei serves with an independent R4 model.

The peer is `fhir.resources` 6.1.0 from PyPI (pydantic models generated from the FHIR
4.0.1 StructureDefinitions; installed into bench/.venv-fhir by this script). It checks
structure: every element is one R4 defines for that resource (no invented fields),
of the right type and cardinality, required elements present, primitives well formed
(ids, dates, instants, codes, URIs). It does not check bindings to value sets or
profiles' invariants; that needs the HL7 Java validator, which is not on PyPI or Debian.

What it does, on 127.0.0.1 only:
1. builds `yiwei` (release) unless --binary is given, and a demo county in a temporary
   data folder (`yiwei demo --no-serve`);
2. issues an API token for a staff account of the demo (`yiwei user token`) and serves;
3. reads /fhir/metadata, and for every resource type it lists runs a search (with a
   patient, team, owner or schedule where the type needs one), validates the Bundle and
   every resource in it, and reads the first few by id and validates those;
4. prints a table (type, searched, resources validated, problems) and exits 1 if any
   resource failed.

    python3 bench/fhir_validate.py                 # build, demo, serve, validate
    python3 bench/fhir_validate.py --binary target/debug/yiwei --user doctor.county
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-fhir"
PEER = ["fhir.resources==6.1.0", "pydantic==1.10.27"]


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv() -> None:
    """Re-run this script inside bench/.venv-fhir, creating it the first time."""
    if in_venv():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {' '.join(PEER)} into {VENV} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: Path, data: Path, port: int):
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [str(binary), "--data-dir", str(data), "serve", "--listen", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise SystemExit("yiwei serve exited: " + self.proc.stderr.read().decode())
                time.sleep(0.3)
        raise SystemExit("yiwei serve did not answer /healthz within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def get(base: str, token: str, path: str):
    req = urllib.request.Request(
        base + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"text": body.decode(errors="replace")}


def validate(resource: dict):
    """None when the resource is valid R4, else the validator's message."""
    from fhir.resources import construct_fhir_element

    kind = resource.get("resourceType")
    try:
        construct_fhir_element(kind, resource)
        return None
    except Exception as e:  # pydantic.ValidationError, KeyError for unknown types
        return f"{kind}/{resource.get('id')}: {e}".replace("\n", " ")[:400]


def first_id(base: str, token: str, kind: str, query: str = ""):
    status, b = get(base, token, f"/fhir/{kind}?_count=1{query}")
    if status == 200:
        for e in b.get("entry", []):
            return e["resource"]["id"]
    return None


def main() -> int:
    ensure_venv()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", type=Path, help="a built yiwei (default: cargo build --release)")
    ap.add_argument("--user", default="doctor.county", help="demo account whose token reads")
    ap.add_argument("--cdc-user", default="cdc", help="demo account for case and signal searches")
    ap.add_argument("--read", type=int, default=3, help="resources read back by id per type")
    args = ap.parse_args()

    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "yiwei"], cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "yiwei"
    binary = binary.resolve()
    data = Path(tempfile.mkdtemp(prefix="yiwei-fhir-"))
    server = None
    try:
        subprocess.run(
            [str(binary), "--data-dir", str(data), "demo", "--no-serve"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, RUST_LOG="error"),
        )

        def token(user: str) -> str:
            out = subprocess.run(
                [str(binary), "--data-dir", str(data), "user", "token", user, "--label", "fhir-validate"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip().split()
            return out[-1]

        staff, cdc = token(args.user), token(args.cdc_user)
        server = Server(binary, data, free_port())
        base = server.base
        status, cap = get(base, staff, "/fhir/metadata")
        problems = []
        if status != 200:
            raise SystemExit(f"/fhir/metadata answered {status}")
        if err := validate(cap):
            problems.append(err)
        types = [r["type"] for r in cap["rest"][0]["resource"]]
        # Patient search needs a criterion: a common surname of the demo county.
        patient = None
        for name in ("韦", "覃", "蒙", "wei", "qin"):
            patient = first_id(base, staff, "Patient", "&name=" + urllib.parse.quote(name))
            if patient:
                break
        if patient is None:
            raise SystemExit("the demo county has no Patient the account can read")
        # Residents to anchor per-patient searches: the first found, and the subjects of
        # case reports and bookings (people with more history than a random record).
        candidates = [patient]
        for kind, tok in (("Condition", cdc), ("Appointment", staff), ("Patient", staff)):
            q = "&name=" + urllib.parse.quote("覃") if kind == "Patient" else ""
            st, b = get(base, tok, f"/fhir/{kind}?_count=30{q}")
            for e in b.get("entry", []) if st == 200 else []:
                text = json.dumps(e["resource"])
                for part in text.split('"Patient/')[1:]:
                    pid = part.split('"')[0]
                    if pid.isdigit() and pid not in candidates:
                        candidates.append(pid)
                if kind == "Patient" and e["resource"]["id"] not in candidates:
                    candidates.append(e["resource"]["id"])
        per_patient = {
            "Encounter",
            "Observation",
            "EpisodeOfCare",
            "Immunization",
            "CarePlan",
            "Task",
            "Appointment",
            "ServiceRequest",
            "ImagingStudy",
            "DiagnosticReport",
            "ChargeItem",
            "Flag",
        }
        needs = {"Patient": "&name=" + urllib.parse.quote("韦")}
        rows = []
        for kind in types:
            tok = cdc if kind in ("Condition", "DetectedIssue") else staff
            query = needs.get(kind, "")
            status, b = get(base, tok, f"/fhir/{kind}?_count=50{query}")
            if kind in per_patient:
                # The first candidate resident with something of this type.
                for pid in candidates[:40]:
                    status, b = get(base, tok, f"/fhir/{kind}?_count=50&patient={pid}")
                    if status == 200 and b.get("entry"):
                        break
            if status != 200:
                rows.append((kind, f"search {status}", 0, 0))
                problems.append(f"{kind}: search answered {status}: {json.dumps(b)[:200]}")
                continue
            n, bad = 0, 0
            if err := validate(b):
                problems.append(err)
                bad += 1
            entries = b.get("entry", [])
            for e in entries:
                n += 1
                if err := validate(e["resource"]):
                    problems.append(err)
                    bad += 1
            for e in entries[: args.read]:
                rid = e["resource"].get("id")
                rs, r = get(base, tok, f"/fhir/{kind}/{urllib.parse.quote(rid)}")
                if rs == 200:
                    n += 1
                    if err := validate(r):
                        problems.append(err)
                        bad += 1
                else:
                    problems.append(f"{kind}/{rid}: read answered {rs}")
                    bad += 1
            rows.append((kind, "ok", n, bad))
        print(f"{'resource type':<20} {'search':<12} {'validated':>9} {'problems':>8}")
        for kind, s, n, bad in rows:
            print(f"{kind:<20} {s:<12} {n:>9} {bad:>8}")
        for p in problems[:50]:
            print("  " + p)
        total = sum(r[2] for r in rows)
        print(f"{total} resources validated against FHIR 4.0.1 (fhir.resources 6.1.0); {len(problems)} problems")
        empty = [r[0] for r in rows if r[2] == 0]
        if empty:
            print("types with nothing to validate in the demo: " + ", ".join(empty))
        return 1 if problems else 0
    finally:
        if server:
            server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
