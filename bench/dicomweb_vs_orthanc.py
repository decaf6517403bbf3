"""DICOMweb side by side: yiwei and Orthanc on the same instances (see dicomweb_vs_orthanc.sh).

Instances are generated here with pydicom (independent of yiwei's own generator): CT,
64x64 16-bit, UTF-8 Chinese names, a few studies of several series. Each server gets the
same bytes:

- STOW-RS: multipart/related POSTs of 25 instances, one client, instances per second;
  then one small store with dicomweb-client's store_instances (interoperability).
- WADO-RS: every instance retrieved one by one (multipart/related application/dicom),
  instances per second, and each compared byte for byte with what was sent.
- QIDO-RS: dicomweb-client search_for_studies with PatientName prefix, PatientID,
  StudyDate range and ModalitiesInStudy; latency p50/p95.

Prints a markdown section for docs/benchmarks.md.
"""

import argparse
import io
import os
import statistics
import time

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"
NAMES = ["韦^秀英", "覃^美玲", "蒙^桂芳", "谭^晨", "莫^小红", "卢^志强", "黄^明", "蓝^丽"]
ROOT = "2.25.4471"


def instance(n, per_study=50):
    study, series, number = n // per_study, (n % per_study) // 25, n % 25
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = f"{ROOT}.{study}.{series}.{number + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = f"{ROOT}.0"
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = f"{ROOT}.{study}"
    ds.SeriesInstanceUID = f"{ROOT}.{study}.{series}"
    ds.Modality = "CT"
    ds.StudyDate = f"2026{1 + study % 12:02d}{1 + study % 28:02d}"
    ds.StudyTime = "093000"
    ds.AccessionNumber = f"ACC{study:06d}"
    ds.PatientName = NAMES[study % len(NAMES)]
    ds.PatientID = f"PID{study:06d}"
    ds.PatientBirthDate = "19580309"
    ds.PatientSex = "F"
    ds.StudyID = "1"
    ds.SeriesNumber = series + 1
    ds.InstanceNumber = number + 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 64
    ds.Columns = 64
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.PixelData = bytes(((x * 7 + n) % 4096).to_bytes(2, "little")[i] for x in range(64 * 64) for i in (0, 1))
    buf = io.BytesIO()
    try:
        pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    except TypeError:  # pydicom 2
        pydicom.dcmwrite(buf, ds, write_like_original=False)
    return ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, buf.getvalue()


def multipart(parts, boundary="bench-boundary-3f9a"):
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts
    )
    return body + b"--" + boundary.encode() + b"--\r\n", f'multipart/related; type="application/dicom"; boundary={boundary}'


def split_multipart(body, content_type):
    boundary = None
    for param in content_type.split(";"):
        k, _, v = param.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip('"')
    delim = b"--" + boundary.encode()
    out = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, rest = chunk.partition(b"\r\n\r\n")
        out.append(rest[:-2] if rest.endswith(b"\r\n") else rest)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (Linux /proc), or None."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def run(name, base, headers, files, queries, pid=None):
    s = requests.Session()
    s.headers.update(headers)
    cpu0 = cpu_seconds(pid)
    t = time.perf_counter()
    for i in range(0, len(files), 25):
        body, ct = multipart([f[3] for f in files[i : i + 25]])
        r = s.post(f"{base}/studies", data=body, headers={"Content-Type": ct, "Accept": "application/dicom+json"})
        assert r.status_code in (200, 202), (name, r.status_code, r.text[:300])
    stow = len(files) / (time.perf_counter() - t)
    cpu1 = cpu_seconds(pid)

    identical = 0
    t = time.perf_counter()
    for study, series, sop, original in files:
        r = s.get(
            f"{base}/studies/{study}/series/{series}/instances/{sop}",
            headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        parts = split_multipart(r.content, r.headers["Content-Type"])
        identical += int(len(parts) == 1 and parts[0] == original)
    wado = len(files) / (time.perf_counter() - t)
    cpu2 = cpu_seconds(pid)
    # The server's own CPU per instance: what the machine's other load cannot inflate much.
    cpu = None
    if None not in (cpu0, cpu1, cpu2):
        cpu = ((cpu1 - cpu0) * 1000 / len(files), (cpu2 - cpu1) * 1000 / len(files))

    client = DICOMwebClient(url=base, headers=headers)
    kinds = {
        "PatientName prefix": lambda i: {"PatientName": NAMES[i % len(NAMES)].split("^")[0] + "*"},
        "PatientID": lambda i: {"PatientID": f"PID{i % 10:06d}"},
        "StudyDate range": lambda i: {"StudyDate": f"2026{1 + i % 12:02d}01-2026{1 + i % 12:02d}28"},
        "ModalitiesInStudy": lambda i: {"ModalitiesInStudy": "CT"},
    }
    latency = {}
    for label, make in kinds.items():
        times = []
        for i in range(queries):
            t = time.perf_counter()
            found = client.search_for_studies(search_filters=make(i))
            times.append(time.perf_counter() - t)
            assert isinstance(found, list)
        latency[label] = times
    # Interoperability: dicomweb-client's own STOW and WADO on one new instance.
    extra = instance(10_000_000)
    client.store_instances([pydicom.dcmread(io.BytesIO(extra[3]))])
    back = client.retrieve_instance(extra[0], extra[1], extra[2])
    assert str(back.PatientName) == str(pydicom.dcmread(io.BytesIO(extra[3])).PatientName)
    return stow, wado, identical, latency, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=500)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--yiwei", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--orthanc", required=True)
    ap.add_argument("--yiwei-pid", type=int, default=0)
    ap.add_argument("--orthanc-pid", type=int, default=0)
    a = ap.parse_args()
    files = [instance(n) for n in range(a.instances)]
    size = sum(len(f[3]) for f in files) / 1_048_576
    results = {
        "Orthanc 1.10 + DICOMweb plugin": run("orthanc", a.orthanc.rstrip("/"), {}, files, a.queries, a.orthanc_pid),
        "yiwei": run("yiwei", a.yiwei.rstrip("/"), {"Authorization": f"Bearer {a.token}"}, files, a.queries, a.yiwei_pid),
    }
    print(f"### DICOMweb: yiwei and Orthanc side by side (`bench/dicomweb_vs_orthanc.sh {a.instances}`)\n")
    print(
        f"{a.instances} CT instances generated with pydicom ({size:.1f} MiB, 64×64 16-bit, UTF-8 names), "
        "sent to both servers on 127.0.0.1 by one client; 2 cores, 23 GiB.\n"
    )
    print("| server | STOW-RS inst/s | WADO-RS inst/s | byte-identical | " + " | ".join(f"QIDO {k} p50 / p95" for k in results["yiwei"][3]) + " |")
    print("|---|---|---|---|" + "---|" * len(results["yiwei"][3]))
    for name, (stow, wado, identical, latency, _cpu) in results.items():
        cells = [f"{statistics.median(v) * 1000:.1f} / {pct(v, 95) * 1000:.1f} ms" for v in latency.values()]
        print(f"| {name} | {stow:.0f} | {wado:.0f} | {identical}/{a.instances} | " + " | ".join(cells) + " |")
    y, o = results["yiwei"], results["Orthanc 1.10 + DICOMweb plugin"]
    print(f"\nyiwei / Orthanc: STOW-RS {y[0] / o[0]:.1f}×, WADO-RS {y[1] / o[1]:.1f}× (target ≥ 2×).")
    if y[4] and o[4]:
        print(
            "\nServer CPU per instance (user + system, from /proc; the client's and other processes' time excluded): "
            f"STOW-RS Orthanc {o[4][0]:.2f} ms, yiwei {y[4][0]:.2f} ms ({o[4][0] / y[4][0]:.1f}×); "
            f"WADO-RS Orthanc {o[4][1]:.2f} ms, yiwei {y[4][1]:.2f} ms ({o[4][1] / y[4][1]:.1f}×)."
        )


if __name__ == "__main__":
    main()
