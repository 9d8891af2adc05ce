#!/usr/bin/env python3
"""Header-parsing benchmark: dwc against pydicom and dcmtk's dcmdump, on the same files.

1. Corpus: `--corpus DIR`, or the archive part of ../shared/bench/make_corpus.py (relative to
   the package; 5000 CT/MR/CR/US/SM/SEG instances, generated once into --work and reused), or,
   when that generator is missing, N synthetic 512x512 CT files written with pydicom (pixel
   data left sparse, so they cost little disk).
2. On those files, page cache warm, --repeat rounds each:
   - dwc:     `dwc bench parse-headers --repeat R DIR` (in-process timing, JSON on stdout);
   - pydicom: `dcmread(f, stop_before_pixels=True)` timed per file in this process;
   - dcmdump: `dcmdump -q -M +sb 7fe0,0010 +sd +r DIR > /dev/null`, timed as a whole
     (-M: long values are not loaded, +sb: stop before Pixel Data).
3. A 2 GiB whole-slide image, written sparse (a real header, then an encapsulated Pixel Data
   of 20000 frames whose fragment contents are holes): once with a 20000-entry Basic Offset
   Table, once with an empty one and an Extended Offset Table. For each, bytes read and peak
   memory of reading its header with dwc, pydicom and dcmdump.
4. Prints a markdown table with ratios and writes it into docs/benchmarks.md between
   `<!-- bench:parse:start -->` and `<!-- bench:parse:end -->`.

Goals measured: dwc >= 20x pydicom per file (median time), header bytes read < 1 MiB.
They are reported, and enforced only with --check.

Examples:
    python3 Scripts/bench_parse.py
    python3 Scripts/bench_parse.py --dwc .build/debug/dwc --no-docs
    python3 Scripts/bench_parse.py --corpus /tmp/dwc-corpus/archive --repeat 5
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench", "make_corpus.py"))
DOCS = os.path.join(ROOT, "docs", "benchmarks.md")
START = "<!-- bench:parse:start -->"
END = "<!-- bench:parse:end -->"
MiB = 1 << 20
GOAL_SPEEDUP = 20.0
GOAL_BYTES = MiB

# --------------------------------------------------------------------------------------------
# setup


APT_UPDATED = False


def apt_install(pkgs: list[str]) -> bool:
    """apt-get install, when running as root on a Debian-like system."""
    global APT_UPDATED
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print(f"bench: installing {' '.join(pkgs)} with apt-get", file=sys.stderr)
    if not APT_UPDATED:
        subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        APT_UPDATED = True
    return subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def pip_install(pkgs: list[str]) -> None:
    if importlib.util.find_spec("pip") is None:
        apt_install(["python3-pip"])
    print(f"bench: installing {' '.join(pkgs)} with pip", file=sys.stderr)
    base = [sys.executable, "-m", "pip", "install", "-q", *pkgs]
    for cmd in (base, base + ["--break-system-packages"]):  # Debian 12's python3 is
        if subprocess.run(cmd).returncode == 0:            # externally managed (PEP 668)
            importlib.invalidate_caches()
            return
    sys.exit(f"bench: could not install {' '.join(pkgs)} with pip")


def ensure_modules(spec: dict[str, str]) -> None:
    """spec: module name -> pip package; installs those whose module is missing."""
    missing = [pkg for mod, pkg in spec.items() if importlib.util.find_spec(mod) is None]
    if missing:
        pip_install(missing)


def ensure_tool(exe: str, package: str) -> str | None:
    path = shutil.which(exe)
    if path is None and apt_install([package]):
        path = shutil.which(exe)
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


TIME: str | None = None  # GNU time, for the peak RSS of a child


def ensure_gnu_time() -> str | None:
    """GNU time reports a child's peak RSS cleanly. (A child exec'd straight from this Python
    process inherits its RSS high-water mark: Linux keeps maxrss across exec, not across
    fork, so every measured command runs as a grandchild: via GNU time, or via sh.)"""
    if not os.access("/usr/bin/time", os.X_OK):
        apt_install(["time"])
    return "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measured(cmd: list[str], capture: bool = False) -> tuple[int, float, int | None, str]:
    """Run cmd as a grandchild; return (exit code, wall seconds, peak RSS KiB or None, stdout)."""
    with tempfile.NamedTemporaryFile(prefix="bench-time-", delete=False) as tf:
        tfile = tf.name
    try:
        if TIME:
            full = [TIME, "-f", "%M", "-o", tfile, *cmd]
        else:
            full = ["sh", "-c", '"$@"; exit $?', "sh", *cmd]
        t0 = time.perf_counter()
        p = subprocess.run(full, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, text=True)
        wall = time.perf_counter() - t0
        rss = None
        if TIME:
            try:
                rss = int(open(tfile).read().strip().splitlines()[-1])
            except (OSError, ValueError, IndexError):
                rss = None
        return p.returncode, wall, rss, p.stdout if capture else ""
    finally:
        os.unlink(tfile)


def strace_bytes(cmd: list[str], path: str) -> int | None:
    """Bytes returned by read/pread calls on `path` while cmd runs, when strace works here."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile(prefix="bench-strace-", suffix=".log", delete=False) as tf:
        log = tf.name
    try:
        p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat,close,read,pread64,readv,preadv,dup,dup2,dup3",
                            "-o", log, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode != 0 and os.path.getsize(log) == 0:
            return None
        # Descriptors are shared by the threads of one process: track them by number only.
        fds: dict[int, bool] = {}
        total = 0
        real = os.path.realpath(path)
        open_re = re.compile(r'^\d+\s+(?:open|openat)\((?:[^,]+, )?"((?:[^"\\]|\\.)*)".*= (\d+)$')
        rw_re = re.compile(r'^\d+\s+(?:read|pread64|readv|preadv)\((\d+),.*= (\d+)$')
        close_re = re.compile(r'^\d+\s+close\((\d+)\)')
        with open(log, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = open_re.match(line)
                if m:
                    fds[int(m.group(2))] = os.path.realpath(m.group(1)) == real
                    continue
                m = rw_re.match(line)
                if m:
                    if fds.get(int(m.group(1))):
                        total += int(m.group(2))
                    continue
                m = close_re.match(line)
                if m:
                    fds.pop(int(m.group(1)), None)
        return total
    finally:
        os.unlink(log)


# --------------------------------------------------------------------------------------------
# corpus


def list_files(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return out


def corpus_from_generator(work: str, instances: int) -> str:
    """The archive part of make_corpus.py, generated once per parameter set into work/."""
    out = os.path.join(work, f"corpus-{instances}")
    marker = os.path.join(out, "manifests", "corpus.json")
    if os.path.exists(marker) and os.path.isdir(os.path.join(out, "archive")):
        try:
            info = json.load(open(marker))
            if info.get("args", {}).get("instances") == instances and info.get("args", {}).get("no_junk"):
                return os.path.join(out, "archive")
        except (OSError, ValueError):
            pass
    ensure_modules({"pydicom": "pydicom>=3", "numpy": "numpy", "PIL": "pillow",
                    "highdicom": "highdicom", "pylibjpeg": "pylibjpeg",
                    "libjpeg": "pylibjpeg-libjpeg", "openjpeg": "pylibjpeg-openjpeg"})
    print(f"bench: generating {instances} instances with {os.path.relpath(MAKE_CORPUS)} "
          f"into {out} (once)", file=sys.stderr)
    t0 = time.time()
    p = subprocess.run([sys.executable, MAKE_CORPUS, "-o", out, "--parts", "archive", "--no-junk",
                        "--instances", str(instances), "--force", "-q"])
    if p.returncode != 0:
        sys.exit("bench: make_corpus.py failed")
    print(f"bench: corpus ready in {time.time() - t0:.0f} s", file=sys.stderr)
    return os.path.join(out, "archive")


def synthetic_ct_corpus(work: str, n: int) -> str:
    """n CT instances, 512x512x16-bit, ~100 header elements, written with pydicom. The Pixel
    Data value is left as a hole (truncate), so the files are full size but cost little disk."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    out = os.path.join(work, f"synthetic-ct-{n}")
    if os.path.isdir(out) and len(list_files(out)) == n:
        return out
    shutil.rmtree(out, ignore_errors=True)
    print(f"bench: writing {n} synthetic CT files into {out}", file=sys.stderr)
    ct = "1.2.840.10008.5.1.4.1.1.2"
    per_series = 100
    for i in range(n):
        series, inst = divmod(i, per_series)
        study = series // 3
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = ct
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["sop", str(i)])
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = f"2023{1 + study % 12:02d}{1 + study % 28:02d}"
        ds.StudyTime = ds.SeriesTime = "101500"
        ds.AcquisitionTime = ds.ContentTime = f"1015{inst % 60:02d}.{i % 1000:03d}"
        ds.AccessionNumber = f"A{1000000 + study}"
        ds.Modality = "CT"
        ds.Manufacturer = "dwc-bench"
        ds.InstitutionName = "Synthetic General Hospital"
        ds.ReferringPhysicianName = "Doe^Jane^^Dr."
        ds.StationName = "CT01"
        ds.StudyDescription = "CT CHEST W/O CONTRAST"
        ds.SeriesDescription = ["AXIAL 5mm", "AXIAL 1mm", "CORONAL"][series % 3]
        ds.ManufacturerModelName = "bench_parse"
        ref = Dataset()
        ref.ReferencedSOPClassUID = ct
        ref.ReferencedSOPInstanceUID = generate_uid(entropy_srcs=["ref", str(i)])
        ds.ReferencedImageSequence = Sequence([ref])
        ds.PatientName = f"Patient^{study:05d}"
        ds.PatientID = f"P{study:06d}"
        ds.PatientBirthDate = "19600101"
        ds.PatientSex = "MF"[study % 2]
        ds.PatientAge = "063Y"
        ds.BodyPartExamined = "CHEST"
        ds.SliceThickness = "5.0"
        ds.KVP = "120"
        ds.DataCollectionDiameter = "500.0"
        ds.SoftwareVersions = "1.0"
        ds.ReconstructionDiameter = "350.0"
        ds.GantryDetectorTilt = "0.0"
        ds.TableHeight = "160.5"
        ds.RotationDirection = "CW"
        ds.ExposureTime = "1000"
        ds.XRayTubeCurrent = "250"
        ds.Exposure = "250"
        ds.FilterType = "BODY FILTER"
        ds.ConvolutionKernel = "STANDARD"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", str(study)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", str(series)])
        ds.StudyID = str(study)
        ds.SeriesNumber = series % 3 + 1
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = inst + 1
        ds.ImagePositionPatient = ["-175.0", "-175.0", f"{-5.0 * inst:.1f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.FrameOfReferenceUID = generate_uid(entropy_srcs=["for", str(study)])
        ds.PositionReferenceIndicator = "SN"
        ds.SliceLocation = f"{-5.0 * inst:.1f}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = 512
        ds.PixelSpacing = ["0.683594", "0.683594"]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ct
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        d = os.path.join(out, f"ST{study:04d}", f"SE{series:05d}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"IM{inst:05d}.dcm")
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        length = 512 * 512 * 2
        with open(path, "ab") as f:
            f.write(b"\xe0\x7f\x10\x00OW\x00\x00" + length.to_bytes(4, "little"))
            f.truncate(f.tell() + length)
    return out


# --------------------------------------------------------------------------------------------
# the three tools on the corpus


def warm(files: list[str]) -> int:
    total = 0
    for p in files:
        with open(p, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                total += len(b)
    return total


def bench_dwc(dwc: str, root: str, repeat: int) -> dict:
    rc, _, rss, out = measured([dwc, "bench", "parse-headers", "--repeat", str(repeat), root], capture=True)
    if rc != 0:
        raise SystemExit(f"bench: dwc bench parse-headers failed (exit {rc})")
    res = json.loads(out)
    res["time_rss_kb"] = rss
    return res


def bench_pydicom(files: list[str], repeat: int) -> dict:
    import warnings

    import pydicom

    samples = []
    failed = 0
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rnd in range(repeat):
            for path in files:
                t0 = time.perf_counter()
                ok = True
                try:
                    pydicom.dcmread(path, stop_before_pixels=True)
                except Exception:  # noqa: BLE001 - a failure is counted, not fatal
                    ok = False
                dt_ = time.perf_counter() - t0
                total += dt_
                if ok:
                    samples.append(dt_)
                elif rnd == 0:
                    failed += 1
    return {"files": len(files), "failed": failed,
            "median_us_per_file": statistics.median(samples) * 1e6 if samples else float("nan"),
            "files_per_s": len(files) * repeat / total if total else float("nan")}


def dcmdump_cmd(dcmdump: str) -> list[str]:
    return [dcmdump, "-q", "-M", "+sb", "7fe0,0010"]


def bench_dcmdump(dcmdump: str, root: str, nfiles: int, repeat: int) -> dict:
    times, rsss = [], []
    rc = 0
    for _ in range(repeat):
        code, wall, rss, _ = measured(dcmdump_cmd(dcmdump) + ["+sd", "+r", root])
        times.append(wall)
        rsss.append(rss or 0)
        rc = rc or code
    t = statistics.median(times)
    return {"files": nfiles, "exit": rc, "seconds": t, "files_per_s": nfiles / t,
            "us_per_file_avg": t / nfiles * 1e6, "peak_rss_kb": max(rsss) or None}


# --------------------------------------------------------------------------------------------
# the 2 GiB whole-slide header


def write_sparse_wsi(path: str, variant: str, frames: int, size: int) -> dict:
    """A VL Whole Slide Microscopy instance, JPEG baseline, `frames` tiles, `size` bytes; the
    tile contents are holes. variant 'bot': Basic Offset Table of `frames` entries; 'eot':
    empty BOT plus Extended Offset Table (and Lengths)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import JPEGBaseline8Bit, generate_uid

    tile = 256
    cols = 1
    while cols * cols < frames:
        cols += 1
    rows = (frames + cols - 1) // cols
    sm = "1.2.840.10008.5.1.4.1.1.77.1.6"
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.SOPClassUID = sm
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["bench-wsi", variant])
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20230615"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AcquisitionDateTime = "20230615101500"
    ds.AccessionNumber = "PATH23-000042"
    ds.Modality = "SM"
    ds.Manufacturer = "dwc-bench"
    ds.ManufacturerModelName = "bench_parse"
    ds.DeviceSerialNumber = "0001"
    ds.SoftwareVersions = "1"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic whole-slide image"
    ds.SeriesDescription = f"WSI {variant}"
    ds.PatientName = "Slide^Synthetic"
    ds.PatientID = "WSI-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["bench-wsi-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["bench-wsi-series", variant])
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=["bench-wsi-for"])
    ds.PositionReferenceIndicator = "SLIDE_CORNER"
    ds.DimensionOrganizationType = "TILED_FULL"
    ds.ContainerIdentifier = "SLIDE-0001"
    ds.IssuerOfTheContainerIdentifierSequence = Sequence([])
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "433466003", "SCT", "Microscope slide"
    ds.ContainerTypeCodeSequence = Sequence([code])
    spec = Dataset()
    spec.SpecimenIdentifier = "S23-0042-A1"
    spec.SpecimenUID = generate_uid(entropy_srcs=["bench-wsi-specimen"])
    spec.IssuerOfTheSpecimenIdentifierSequence = Sequence([])
    spec.SpecimenPreparationSequence = Sequence([])
    ds.SpecimenDescriptionSequence = Sequence([spec])
    ds.VolumetricProperties = "VOLUME"
    ds.SpecimenLabelInImage = "NO"
    ds.BurnedInAnnotation = "NO"
    ds.FocusMethod = "AUTO"
    ds.ExtendedDepthOfField = "NO"
    ds.ImagedVolumeWidth = cols * tile * 0.00025
    ds.ImagedVolumeHeight = rows * tile * 0.00025
    ds.ImagedVolumeDepth = 0.001
    ds.TotalPixelMatrixColumns = cols * tile
    ds.TotalPixelMatrixRows = rows * tile
    ds.TotalPixelMatrixFocalPlanes = 1
    origin = Dataset()
    origin.XOffsetInSlideCoordinateSystem = 20.0
    origin.YOffsetInSlideCoordinateSystem = 40.0
    ds.TotalPixelMatrixOriginSequence = Sequence([origin])
    ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
    ds.NumberOfOpticalPaths = 1
    op = Dataset()
    op.OpticalPathIdentifier = "1"
    ill = Dataset()
    ill.CodeValue, ill.CodingSchemeDesignator, ill.CodeMeaning = "111744", "DCM", "Brightfield illumination"
    op.IlluminationTypeCodeSequence = Sequence([ill])
    op.ICCProfile = bytes(range(256)) * 8 + b"\x00" * 1400  # an ICC-sized (3.4 KB) opaque blob
    ds.OpticalPathSequence = Sequence([op])
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [0.00025, 0.00025]
    pm.SliceThickness = 0.001
    shared.PixelMeasuresSequence = Sequence([pm])
    ft = Dataset()
    ft.FrameType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    shared.WholeSlideMicroscopyImageFrameTypeSequence = Sequence([ft])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.NumberOfFrames = frames
    ds.Rows = ds.Columns = tile
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = 15.0
    ds.LossyImageCompressionMethod = "ISO_10918_1"

    # Pixel Data: the BOT item, `frames` items of frame_len bytes each, the delimiter; the
    # header's size does not depend on the offsets, so size it first with placeholders.
    import io

    def serialise() -> bytes:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sm
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.file_meta = meta
        buf = io.BytesIO()
        pydicom.dcmwrite(buf, ds, enforce_file_format=True)
        return buf.getvalue()

    def set_eot(offsets: list[int], lengths: list[int]) -> None:
        ds.ExtendedOffsetTable = b"".join(o.to_bytes(8, "little") for o in offsets)
        ds["ExtendedOffsetTable"].VR = "OV"
        ds.ExtendedOffsetTableLengths = b"".join(n.to_bytes(8, "little") for n in lengths)
        ds["ExtendedOffsetTableLengths"].VR = "OV"

    bot_len = 4 * frames if variant == "bot" else 0
    if variant == "eot":
        set_eot([0] * frames, [0] * frames)
    fixed = len(serialise()) + 12 + 8 + bot_len + 8  # header, 7FE0 element, BOT item, delimiter
    frame_len = ((size - fixed) // frames - 8) & ~1
    if frame_len < 16 or size % 2:
        raise SystemExit(f"bench: --wsi-size {size} is too small for {frames} frames, or odd")
    # the last frame takes the remainder, so that the file ends with the delimiter at `size`
    lengths = [frame_len] * (frames - 1) + [size - fixed - frames * 8 - (frames - 1) * frame_len]
    if variant == "eot":
        set_eot([i * (8 + frame_len) for i in range(frames)], lengths)
    header = serialise()
    assert len(header) + 12 + 8 + bot_len + 8 == fixed
    with open(path, "wb") as f:
        f.write(header)
        f.write(b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff")
        f.write(b"\xfe\xff\x00\xe0" + bot_len.to_bytes(4, "little"))
        if bot_len:
            f.write(b"".join((i * (8 + frame_len)).to_bytes(4, "little") for i in range(frames)))
        first = f.tell()
        for i, n in enumerate(lengths):
            f.seek(first + i * (8 + frame_len))
            f.write(b"\xfe\xff\x00\xe0" + n.to_bytes(4, "little"))
            if i == 0:  # a JPEG start marker in the first tile, the rest of it a hole
                f.write(b"\xff\xd8\xff\xe0")
        f.seek(first + (frames - 1) * (8 + frame_len) + 8 + lengths[-1])
        f.write(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")
        assert f.tell() == size, (f.tell(), size)
    st = os.stat(path)
    return {"variant": variant, "frames": frames, "size": st.st_size, "header_bytes": len(header),
            "disk_bytes": st.st_blocks * 512}


PYDICOM_PROBE = r"""
import json, os, resource, sys, time, warnings
import pydicom
class Counting:
    def __init__(self, f): self.f, self.n = f, 0
    def read(self, n=-1):
        b = self.f.read(n); self.n += len(b); return b
    def seek(self, *a): return self.f.seek(*a)
    def tell(self): return self.f.tell()
    def close(self): self.f.close()
warnings.simplefilter("ignore")
with open(sys.argv[1], "rb", buffering=0) as raw:
    c = Counting(raw)
    t0 = time.perf_counter()
    ds = pydicom.dcmread(c, stop_before_pixels=True)
    t = time.perf_counter() - t0
print(json.dumps({"bytes_read": c.n, "seconds": t, "elements": len(ds),
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_wsi(dwc: str, dcmdump: str | None, path: str) -> dict:
    res: dict = {}
    rc, _, rss, out = measured([dwc, "bench", "parse-headers", "--repeat", "3", path], capture=True)
    if rc == 0:
        j = json.loads(out)
        res["dwc"] = {"bytes_read": j["bytes_read"], "peak_rss_kb": rss or j["peak_rss_kb"],
                      "us": j["median_us_per_file"], "failed": j["failed"]}
        # cross-checks: what the kernel handed a plain `dwc dump` of that file, and its memory
        dump = [dwc, "dump", "--stop-before-pixels", "--format", "json", path]
        rc, wall, rss, _ = measured(dump)
        res["dwc"].update(strace_bytes=strace_bytes(dump, path), dump_exit=rc, dump_rss_kb=rss, dump_s=wall)
    else:
        res["dwc"] = {"error": f"exit {rc}"}
    rc, _, rss, out = measured([sys.executable, "-c", PYDICOM_PROBE, path], capture=True)
    if rc == 0:
        j = json.loads(out)
        res["pydicom"] = {"bytes_read": j["bytes_read"], "peak_rss_kb": rss or j["peak_rss_kb"],
                          "us": j["seconds"] * 1e6}
    else:
        res["pydicom"] = {"error": f"exit {rc}"}
    if dcmdump:
        cmd = dcmdump_cmd(dcmdump) + [path]
        rc, wall, rss, _ = measured(cmd)
        res["dcmdump"] = {"bytes_read": strace_bytes(cmd, path), "peak_rss_kb": rss,
                          "us": wall * 1e6, "exit": rc}
    return res


def python_baseline_kb() -> int | None:
    """Peak RSS of `python3 -c 'import pydicom'`: what the pydicom column costs before reading."""
    return measured([sys.executable, "-c", "import pydicom"])[2]


# --------------------------------------------------------------------------------------------
# report


def machine_note() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / (1 << 20):.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {osname}"


def fmt_int(n) -> str:
    return f"{n:,.0f}" if isinstance(n, (int, float)) else "n/a"


def fmt_bytes(n) -> str:
    if not isinstance(n, (int, float)):
        return "n/a"
    if n < 10 * 1024:
        return f"{n:,.0f} B"
    if n < 10 * MiB:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / MiB:,.1f} MiB"


def fmt_kib(n) -> str:
    if not isinstance(n, (int, float)):
        return "n/a"
    return f"{n / 1024:,.1f} MiB" if n >= 10 * 1024 else f"{n:,.0f} KiB"


def ratio(a, b) -> str:
    try:
        return f"{a / b:,.1f}×"
    except (TypeError, ZeroDivisionError):
        return "n/a"


def report(ctx: dict) -> tuple[str, list[tuple[str, bool, str]]]:
    d, py, dd = ctx["dwc"], ctx["pydicom"], ctx.get("dcmdump")
    out = [f"Run {ctx['date']} on {ctx['machine']}; {ctx['versions']}.", "",
           f"Corpus: {ctx['corpus_note']}: {ctx['nfiles']:,} files, {fmt_bytes(ctx['nbytes'])}; "
           f"page cache warm; {ctx['repeat']} rounds.", "",
           "| header parse (stop before Pixel Data) | files/s | median µs/file | failed | peak RSS "
           "| dwc speed-up: files/s | dwc speed-up: median |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
           f"| dwc `bench parse-headers` | {fmt_int(d['files_per_s'])} | {d['median_us_per_file']:.1f} | "
           f"{d['failed']} | {fmt_kib(d.get('time_rss_kb') or d['peak_rss_kb'])} | — | — |",
           f"| pydicom `dcmread(f, stop_before_pixels=True)` | {fmt_int(py['files_per_s'])} | "
           f"{py['median_us_per_file']:.1f} | {py['failed']} | (in process) | "
           f"{ratio(d['files_per_s'], py['files_per_s'])} | {ratio(py['median_us_per_file'], d['median_us_per_file'])} |"]
    if dd:
        out.append(f"| dcmdump `-q -M +sb 7fe0,0010 +sd +r DIR` | {fmt_int(dd['files_per_s'])} | "
                   f"({dd['us_per_file_avg']:.1f} mean) | {('exit ' + str(dd['exit'])) if dd['exit'] else 0} | "
                   f"{fmt_kib(dd['peak_rss_kb'])} | {ratio(d['files_per_s'], dd['files_per_s'])} | — |")
    out += ["",
            f"dwc and pydicom time each file in process (open, parse, close); files/s is files × rounds over the "
            f"summed time. dcmdump runs once over the directory (start-up and text output to /dev/null included; "
            f"-M leaves long values unread, +sb stops before Pixel Data), median of {ctx['repeat']} runs. "
            f"dwc read {fmt_bytes(d['bytes_read'])} of the corpus's {fmt_bytes(d['source_bytes'])} in a round.",
            ""]
    wsi = ctx.get("wsi", [])
    if wsi:
        w0 = wsi[0]
        out += [f"Whole-slide image: VL WSI, JPEG baseline, {w0['frames']:,} frames of 256×256, "
                f"{fmt_bytes(w0['size'])} (a sparse file: {fmt_bytes(w0['disk_bytes'])} on disk, tile contents are "
                f"holes), header {fmt_bytes(w0['header_bytes'])} before Pixel Data (EOT variant: "
                f"{fmt_bytes(wsi[-1]['header_bytes'])}). Header read with stop before Pixel Data; bytes read as "
                "counted by each reader (dwc `bench`: its byte source; `dump` and dcmdump: read/pread calls on the file, by strace; "
                "pydicom: a counting file object).",
                "",
                "| offset table | reader | bytes read | peak RSS | time |",
                "| --- | --- | ---: | ---: | ---: |"]
        for w in wsi:
            label = {"bot": f"BOT, {w['frames']:,} entries", "eot": "empty BOT + EOT"}[w["variant"]]
            r = w["result"]
            x = r.get("dwc", {})
            if "error" in x:
                out.append(f"| {label} | dwc | {x['error']} | | |")
            else:
                out.append(f"| {label} | dwc `bench parse-headers` | {fmt_bytes(x['bytes_read'])} | "
                           f"{fmt_kib(x['peak_rss_kb'])} | {x['us']:,.0f} µs in process |")
                out.append(f"| {label} | dwc `dump --stop-before-pixels --format json` | {fmt_bytes(x['strace_bytes'])} | "
                           f"{fmt_kib(x['dump_rss_kb'])} | {x['dump_s'] * 1e3:,.1f} ms process |")
            y = r.get("pydicom", {})
            if "error" in y:
                out.append(f"| {label} | pydicom | {y['error']} | | |")
            else:
                out.append(f"| {label} | pydicom `dcmread(f, stop_before_pixels=True)` | {fmt_bytes(y['bytes_read'])} | "
                           f"{fmt_kib(y['peak_rss_kb'])} (import alone: {fmt_kib(ctx.get('python_kb'))}) | "
                           f"{y['us']:,.0f} µs in process |")
            z = r.get("dcmdump")
            if z:
                out.append(f"| {label} | dcmdump `-q -M +sb 7fe0,0010` | {fmt_bytes(z['bytes_read'])} | "
                           f"{fmt_kib(z['peak_rss_kb'])} | {z['us'] / 1e3:,.1f} ms process |")
        out.append("")
    goals = []
    sp = py["median_us_per_file"] / d["median_us_per_file"] if d["median_us_per_file"] else 0.0
    goals.append(("dwc ≥ 20× pydicom per file (median)", sp >= GOAL_SPEEDUP, f"{sp:.1f}×"))
    if wsi:
        worst = max(w["result"]["dwc"].get("bytes_read", float("inf")) for w in wsi)
        goals.append(("WSI header bytes read < 1 MiB", worst < GOAL_BYTES, fmt_bytes(worst)))
    out.append("Goals: " + "; ".join(f"{name}: **{'met' if ok else 'missed'}** ({val})"
                                     for name, ok, val in goals) + ".")
    return "\n".join(out), goals


def write_docs(path: str, body: str) -> None:
    block = f"{START}\n{body}\n{END}"
    if os.path.exists(path):
        text = open(path, encoding="utf-8").read()
    else:
        text = "# Benchmarks\n\nNumbers measured by the scripts in `Scripts/`; each section is rewritten by its script.\n"
    if START in text and END in text and text.index(START) < text.index(END):
        a = text.index(START)
        b = text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + (
            "\n\n## Header parsing\n\n"
            "`python3 Scripts/bench_parse.py` (see `--help`): dwc's header parser against pydicom and "
            "dcmtk on the same files, and what reading the header of a 2 GiB whole-slide image costs.\n\n"
            + block + "\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------
# main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="See the module docstring (head Scripts/bench_parse.py) for details.")
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"),
                    help="dwc binary (default: .build/release/dwc)")
    ap.add_argument("--corpus", metavar="DIR", help="benchmark the files under DIR instead of generating a corpus")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "dwc-bench"),
                    help="where generated files go and are kept for the next run (default %(default)s)")
    ap.add_argument("--instances", type=int, default=5000,
                    help="corpus size when generating it (default 5000)")
    ap.add_argument("--synthetic", action="store_true",
                    help="use synthetic CT files even when make_corpus.py exists")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over the corpus (default 3)")
    ap.add_argument("--wsi-frames", type=int, default=20000, help="frames of the WSI (default 20000)")
    ap.add_argument("--wsi-size", type=int, default=2 << 30, help="WSI file size in bytes (default 2 GiB)")
    ap.add_argument("--no-wsi", action="store_true", help="skip the whole-slide measurement")
    ap.add_argument("--keep-wsi", action="store_true", help="keep the sparse WSI files in --work")
    ap.add_argument("--docs", default=DOCS, help="markdown file to update (default docs/benchmarks.md)")
    ap.add_argument("--no-docs", action="store_true", help="print only; do not touch the docs")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = ap.parse_args(argv)

    dwc = os.path.abspath(args.dwc)
    if not (os.path.isfile(dwc) and os.access(dwc, os.X_OK)):
        print(f"bench: no dwc binary at {args.dwc} (build it: swift build -c release, or pass --dwc)",
              file=sys.stderr)
        return 2
    ensure_modules({"pydicom": "pydicom>=3"})
    import pydicom

    dcmdump = ensure_tool("dcmdump", "dcmtk")
    global TIME
    TIME = ensure_gnu_time()
    ensure_tool("strace", "strace")  # optional: cross-checks bytes read
    os.makedirs(args.work, exist_ok=True)

    if args.corpus:
        root = os.path.abspath(args.corpus)
        corpus_note = f"`{args.corpus}`"
    elif os.path.exists(MAKE_CORPUS) and not args.synthetic:
        root = corpus_from_generator(args.work, args.instances)
        corpus_note = (f"`make_corpus.py --parts archive --no-junk --instances {args.instances}` "
                       "(CT, MR, CR, US, SM, SEG; explicit/implicit VR, JPEG; Latin-1, UTF-8, ideographic names)")
    else:
        root = synthetic_ct_corpus(args.work, args.instances)
        corpus_note = f"{args.instances} synthetic CT files (pydicom, 512×512, explicit VR LE)"
    files = list_files(root)
    if not files:
        print(f"bench: no files under {root}", file=sys.stderr)
        return 2
    nbytes = warm(files)

    print(f"bench: {len(files)} files under {root}; dwc…", file=sys.stderr)
    dres = bench_dwc(dwc, root, args.repeat)
    print("bench: pydicom…", file=sys.stderr)
    pres = bench_pydicom(files, args.repeat)
    dd = None
    if dcmdump:
        print("bench: dcmdump…", file=sys.stderr)
        dd = bench_dcmdump(dcmdump, root, len(files), args.repeat)

    wsi = []
    if not args.no_wsi:
        for variant in ("bot", "eot"):
            path = os.path.join(args.work, f"wsi-{variant}-{args.wsi_frames}.dcm")
            print(f"bench: WSI ({variant})…", file=sys.stderr)
            info = write_sparse_wsi(path, variant, args.wsi_frames, args.wsi_size)
            info["result"] = bench_wsi(dwc, dcmdump, path)
            wsi.append(info)
            if not args.keep_wsi:
                os.unlink(path)

    dv = run([dwc, "--version"]).stdout.splitlines()
    dcv = run([dcmdump, "--version"]).stdout.split()[2] if dcmdump else "not installed"
    ctx = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_note(),
        "versions": (f"{dv[0] if dv else 'dwc'} ({os.path.relpath(dwc, ROOT)}), pydicom {pydicom.__version__} "
                     f"(Python {platform.python_version()}), dcmtk dcmdump {dcv}"),
        "corpus_note": corpus_note, "nfiles": len(files), "nbytes": nbytes, "repeat": args.repeat,
        "dwc": dres, "pydicom": pres, "dcmdump": dd, "wsi": wsi, "python_kb": python_baseline_kb(),
    }
    body, goals = report(ctx)
    print(body)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(ctx, f, indent=2, default=str)
    if not args.no_docs:
        write_docs(args.docs, body)
        print(f"bench: updated {os.path.relpath(args.docs)}", file=sys.stderr)
    if args.check and not all(ok for _, ok, _ in goals):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
