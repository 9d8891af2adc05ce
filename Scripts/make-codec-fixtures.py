#!/usr/bin/env python3
"""Writes the fixtures of the DicomCodecs tests into a directory.

    python3 Scripts/make-codec-fixtures.py OUTDIR [--max-frames N]

For every pydicom test file with pixel data in a transfer syntax dwc decodes, and that pydicom
itself can decode, it writes the frame bytes (encapsulated: one file per frame from
pydicom.encaps.generate_frames; native: the whole Pixel Data value as stored, big endian
included, for the Swift test to swap and slice) and pydicom's pixel_array of those frames.
It also synthesizes frames pydicom does not ship, with dcmtk (dcmcjpeg, dcmcjpls, dcmcrle),
OpenJPH (ojph_compress, for HTJ2K) and small encoders written here (JPEG lossless with restart
markers, native variants); their expected pixels are the source pixels where the encoding is
lossless, else pydicom's decoding of the result.

OUTDIR/manifest.json lists the cases:
  {"cases": [{"name", "origin", "oracle", "transferSyntax", "attributes": {...},
              "native": {"file", "vr", "bigEndian"} | null,
              "frames": [{"index", "file" | null, "expected", "dtype"}],
              "tolerance", "toleranceNote", "pixelCheck"}],
   "skipped": [{"name", "reason"}]}
"dtype" is a numpy dtype string of the expected file ("<u1", "<i2", ...); expected arrays are
row-major, colour-by-pixel.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

warnings.simplefilter("ignore")

NATIVE = {
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
}
JPEG_DCT = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}
JPEG_LOSSLESS = {"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
J2K = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
       "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
RLE = {"1.2.840.10008.1.2.5"}
SUPPORTED = NATIVE | JPEG_DCT | JPEG_LOSSLESS | JPEG_LS | J2K | RLE

ATTRIBUTES = ["Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored", "HighBit",
              "PixelRepresentation", "PhotometricInterpretation", "PlanarConfiguration",
              "NumberOfFrames"]


def attributes_of(ds):
    out = {}
    for keyword in ATTRIBUTES:
        value = ds.get(keyword)
        if value is None:
            out[keyword] = None
        elif keyword in ("PhotometricInterpretation", "NumberOfFrames"):
            out[keyword] = str(value)
        else:
            out[keyword] = int(value)
    return out


def frame_count(ds):
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def chosen_frames(n, limit):
    """First frames and the last one, at most `limit`."""
    if n <= limit:
        return list(range(n))
    return list(range(limit - 1)) + [n - 1]


class Writer:
    def __init__(self, out):
        self.out = out
        self.cases = []
        self.skipped = []

    def write(self, name, data):
        with open(os.path.join(self.out, name), "wb") as f:
            f.write(data)
        return name

    def expected(self, stem, index, arr):
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        dtype = arr.dtype.str
        return {"expected": self.write(f"{stem}.e{index}.bin", arr.tobytes()), "dtype": dtype}

    def add(self, case):
        self.cases.append(case)

    def skip(self, name, reason):
        self.skipped.append({"name": name, "reason": reason})

    def finish(self):
        with open(os.path.join(self.out, "manifest.json"), "w") as f:
            json.dump({"cases": self.cases, "skipped": self.skipped}, f, indent=1)


def tolerance_for(ts, ds):
    """Tolerance of a decoded sample against pydicom's, with the reason."""
    if ts in JPEG_DCT:
        precision = int(ds.get("BitsStored", 8))
        if precision > 8:
            return 1, ("12-bit lossy JPEG: dwc's Swift decoder uses a floating-point IDCT, pylibjpeg-libjpeg "
                       "an integer one; rounding differs by at most ±1")
        if int(ds.get("SamplesPerPixel", 1)) == 3:
            return 5, ("8-bit lossy colour JPEG: libjpeg-turbo (islow IDCT, fixed-point YCbCr->RGB, smooth "
                       "chroma upsampling) vs pylibjpeg-libjpeg + pydicom's float YCbCr->RGB; mostly ±1, up to 5 "
                       "at chroma edges of 4:2:x images")
        return 1, "8-bit lossy JPEG: libjpeg-turbo's islow IDCT vs pylibjpeg-libjpeg's IDCT rounding, ±1"
    if ts in ("1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"):
        return 1, "lossy JPEG 2000: OpenJPEG here vs the OpenJPEG bundled with pylibjpeg-openjpeg, ±1"
    return 0, "lossless: exact"


def pydicom_cases(writer, max_frames):
    files = [f for f in pydicom.data.get_testdata_files() if "dicomdirtests" not in f]
    for path in sorted(files, key=os.path.basename):
        name = os.path.basename(path)
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            continue
        if "PixelData" not in ds:
            continue
        meta = getattr(ds, "file_meta", None)
        ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
        if ts not in SUPPORTED:
            writer.skip(name, f"transfer syntax {ts or '(none)'} has no dwc decoder")
            continue
        stem = name.replace(".dcm", "").replace("+", "p")
        n = frame_count(ds)
        indices = chosen_frames(n, max_frames)
        as_rgb = ts in JPEG_DCT
        expected = []
        try:
            for i in indices:
                try:
                    arr = pixel_array(path, index=i, as_rgb=as_rgb)
                except AttributeError:
                    # Deflated data sets: pixel_array(path) does not inflate; the dataset does.
                    arr = pixel_array(ds, index=i, as_rgb=as_rgb)
                expected.append(arr)
        except Exception as e:  # pydicom cannot decode it: no pixel oracle
            reason = f"pydicom cannot decode it: {type(e).__name__}: {str(e).splitlines()[0]}"
            writer.skip(name, reason + "; kept as a robustness case (decode or CodecError, never a crash)")
            robustness_case(writer, name, stem, ds, ts, n, indices, reason)
            continue
        case = {
            "name": name, "origin": "pydicom test file", "oracle": "pydicom pixel_array"
            + (" (as_rgb=True)" if as_rgb else " (as_rgb=False)"),
            "transferSyntax": ts, "attributes": attributes_of(ds), "native": None, "frames": [],
            "pixelCheck": True, "expect": "decode",
        }
        case["tolerance"], case["toleranceNote"] = tolerance_for(ts, ds)
        if ts in NATIVE:
            element = ds["PixelData"]
            case["native"] = {"file": writer.write(f"{stem}.pixeldata.bin", bytes(ds.PixelData)),
                              "vr": element.VR, "bigEndian": ts == "1.2.840.10008.1.2.2"}
            frames = None
        else:
            frames = list(generate_frames(ds.PixelData, number_of_frames=n))
        for k, i in enumerate(indices):
            entry = {"index": i, "file": None}
            if frames is not None:
                entry["file"] = writer.write(f"{stem}.f{i}.bin", frames[i])
            entry.update(writer.expected(stem, i, expected[k]))
            case["frames"].append(entry)
        writer.add(case)


def robustness_case(writer, name, stem, ds, ts, n, indices, reason):
    """Frames of a file pydicom cannot decode: dwc must decode them or throw a CodecError."""
    if "Rows" not in ds or "BitsAllocated" not in ds:
        return
    case = {"name": name, "origin": "pydicom test file", "oracle": "none (" + reason + ")",
            "transferSyntax": ts, "attributes": attributes_of(ds), "native": None, "frames": [],
            "tolerance": 0, "toleranceNote": "", "pixelCheck": False, "expect": "any"}
    try:
        if ts in NATIVE:
            case["native"] = {"file": writer.write(f"{stem}.pixeldata.bin", bytes(ds.PixelData)),
                              "vr": ds["PixelData"].VR, "bigEndian": ts == "1.2.840.10008.1.2.2"}
            case["frames"] = [{"index": i, "file": None, "expected": None, "dtype": None} for i in indices]
        else:
            frames = list(generate_frames(ds.PixelData, number_of_frames=n))
            case["frames"] = [{"index": i, "file": writer.write(f"{stem}.f{i}.bin", frames[i]), "expected": None,
                               "dtype": None} for i in indices if i < len(frames)]
    except Exception:
        return
    writer.add(case)


# --- synthesized cases -------------------------------------------------------------------

def save_dataset(path, pixels_ds, ts, pixel_bytes):
    """A minimal Part 10 file around pixels_ds's image attributes."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    for keyword in ATTRIBUTES:
        if keyword in pixels_ds:
            setattr(ds, keyword, pixels_ds[keyword].value)
    ds.PixelData = pixel_bytes
    ds["PixelData"].VR = "OB" if ds.BitsAllocated <= 8 else "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ts
    if ts != ExplicitVRLittleEndian:
        ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def image_dataset(arr, bits_stored=None, signed=False, photometric=None, frames=1):
    ds = Dataset()
    shape = arr.shape
    if frames > 1:
        shape = shape[1:]
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = shape[2] if len(shape) == 3 else 1
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PhotometricInterpretation = photometric or ("MONOCHROME2" if ds.SamplesPerPixel == 1 else "RGB")
    if ds.SamplesPerPixel > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def add_encapsulated_case(writer, name, path, oracle, source=None, tolerance=0, note="lossless: exact", check_pydicom=True,
                          expect="decode"):
    """A case from an encapsulated file written by a tool; expected = source or pydicom's decoding."""
    ds = pydicom.dcmread(path)
    ts = str(ds.file_meta.TransferSyntaxUID)
    n = frame_count(ds)
    frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    case = {"name": name, "origin": "synthesized", "oracle": oracle, "transferSyntax": ts,
            "attributes": attributes_of(ds), "native": None, "frames": [], "tolerance": tolerance,
            "toleranceNote": note, "pixelCheck": expect == "decode", "expect": expect}
    for i in range(n):
        if source is not None:
            arr = source[i] if n > 1 else source
            if check_pydicom:
                theirs = pixel_array(path, index=i, as_rgb=False)
                if not np.array_equal(theirs.astype(np.int64), np.asarray(arr).astype(np.int64)) and "NOTE" not in case["oracle"]:
                    case["oracle"] += "; NOTE pydicom's decoding differs from the source"
        elif expect == "decode":
            arr = pixel_array(path, index=i, as_rgb=ts in JPEG_DCT)
        entry = {"index": i, "file": writer.write(f"{name}.f{i}.bin", frames[i]), "expected": None, "dtype": None}
        if expect == "decode":
            entry.update(writer.expected(name, i, arr))
        case["frames"].append(entry)
    writer.add(case)


def pixels_of(name):
    return pydicom.dcmread(pydicom.data.get_testdata_file(name))


def dcmtk_cases(writer, work):
    ct = pydicom.data.get_testdata_file("CT_small.dcm")           # 16-bit signed
    rgb = pydicom.data.get_testdata_file("SC_rgb.dcm")            # 8-bit RGB
    emri = pydicom.data.get_testdata_file("emri_small.dcm")       # 12-bit in 16, 10 frames
    ct_px = pixels_of("CT_small.dcm").pixel_array
    rgb_px = pixels_of("SC_rgb.dcm").pixel_array
    emri_px = pixels_of("emri_small.dcm").pixel_array

    # JPEG lossless, every predictor, gray 16-bit signed and RGB.
    for sv in range(1, 8):
        out = os.path.join(work, f"ct_sv{sv}.dcm")
        run(["dcmcjpeg", "+el", "+sv", str(sv), "+un", ct, out])
        add_encapsulated_case(writer, f"dcmcjpeg_CT_small_lossless_sv{sv}", out, "source pixels (lossless)", ct_px)
        out = os.path.join(work, f"rgb_sv{sv}.dcm")
        run(["dcmcjpeg", "+el", "+sv", str(sv), "+un", rgb, out])
        add_encapsulated_case(writer, f"dcmcjpeg_SC_rgb_lossless_sv{sv}", out, "source pixels (lossless)", rgb_px)
    # Point transform (lossy lossless): oracle pydicom.
    out = os.path.join(work, "emri_pt2.dcm")
    run(["dcmcjpeg", "+el", "+sv", "6", "+pt", "2", "+un", emri, out])
    # pylibjpeg-libjpeg returns saturated samples for a point transform > 0; dcmtk's dcmdjpeg
    # and T.81 H.1.2.2 give the source with its low bits cleared.
    add_encapsulated_case(writer, "dcmcjpeg_emri_small_lossless_sv6_pt2", out,
                          "source pixels >> 2 << 2 (as dcmdjpeg decodes it)", (emri_px >> 2) << 2)
    # 12-bit JPEG extended (lossy), multi-frame.
    out = os.path.join(work, "emri_ext.dcm")
    run(["dcmcjpeg", "+ee", "+un", emri, out])
    add_encapsulated_case(writer, "dcmcjpeg_emri_small_extended_12bit", out, "pydicom pixel_array", tolerance=1,
                          note="12-bit lossy JPEG: Swift floating-point IDCT vs pylibjpeg-libjpeg, ±1")
    out = os.path.join(work, "ct_ext.dcm")
    run(["dcmcjpeg", "+ee", "+q", "95", "+un", pydicom.data.get_testdata_file("MR_small.dcm"), out])
    # MR_small is 16-bit: dcmcjpeg scales it to 12 bits; oracle pydicom.
    try:
        add_encapsulated_case(writer, "dcmcjpeg_MR_small_extended_12bit", out, "pydicom pixel_array", tolerance=1,
                              note="12-bit lossy JPEG: Swift floating-point IDCT vs pylibjpeg-libjpeg, ±1")
    except Exception as e:
        writer.skip("dcmcjpeg_MR_small_extended_12bit", f"not made: {e}")

    # JPEG-lossy.dcm: 12-bit, its scan header says Se=0 (pylibjpeg-libjpeg refuses it; IJG
    # libjpeg, as in dcmtk, warns and decodes it as sequential). Oracle: dcmdjpeg.
    lossy = pydicom.data.get_testdata_file("JPEG-lossy.dcm")
    out = os.path.join(work, "jpeg_lossy_d.dcm")
    run(["dcmdjpeg", lossy, out])
    add_encapsulated_case(writer, "JPEG-lossy.dcm (dcmdjpeg oracle)", lossy, "dcmtk dcmdjpeg (IJG 12-bit)",
                          pydicom.dcmread(out).pixel_array, tolerance=1, check_pydicom=False,
                          note="12-bit lossy JPEG: Swift floating-point IDCT vs IJG's integer islow IDCT, ±1")
    # The 12-bit files also against dcmtk (IJG), a second opinion beside pylibjpeg-libjpeg.
    for name in ("JPGExtended.dcm",):
        src = pydicom.data.get_testdata_file(name)
        out = os.path.join(work, "d_" + name)
        run(["dcmdjpeg", src, out])
        add_encapsulated_case(writer, name + " (dcmdjpeg oracle)", src, "dcmtk dcmdjpeg (IJG 12-bit)",
                              pydicom.dcmread(out).pixel_array, tolerance=1, check_pydicom=False,
                              note="12-bit lossy JPEG: Swift floating-point IDCT vs IJG's integer islow IDCT, ±1")

    # JPEG-LS: interleave modes, near-lossless.
    for mode in ("+in", "+il", "+is"):
        out = os.path.join(work, f"rgb_jls{mode}.dcm")
        run(["dcmcjpls", mode, "+un", rgb, out])
        add_encapsulated_case(writer, f"dcmcjpls_SC_rgb_lossless_{mode[1:]}", out, "source pixels (lossless)", rgb_px)
    out = os.path.join(work, "emri_jlsn.dcm")   # dcmcjpls refuses signed data for near-lossless
    run(["dcmcjpls", "+en", "+md", "3", "+un", emri, out])
    add_encapsulated_case(writer, "dcmcjpls_emri_small_near_lossless_3", out, "pydicom pixel_array")
    out = os.path.join(work, "emri_jls.dcm")
    run(["dcmcjpls", "+un", emri, out])
    add_encapsulated_case(writer, "dcmcjpls_emri_small_lossless", out, "source pixels (lossless)", emri_px)

    # RLE of 12-bit multi-frame and signed 16-bit.
    out = os.path.join(work, "emri_rle.dcm")
    run(["dcmcrle", "+un", emri, out])
    add_encapsulated_case(writer, "dcmcrle_emri_small", out, "source pixels (lossless)", emri_px)
    out = os.path.join(work, "ct_rle.dcm")
    run(["dcmcrle", "+un", ct, out])
    add_encapsulated_case(writer, "dcmcrle_CT_small", out, "source pixels (lossless)", ct_px)


def htj2k_cases(writer, work):
    if shutil.which("ojph_compress") is None:
        raise SystemExit("make-codec-fixtures: ojph_compress (Debian package openjph-tools) is needed for HTJ2K fixtures")
    mr = pixels_of("MR2_UNCR.dcm").pixel_array   # 12-bit unsigned 1024x1024: crop to keep it small
    gray = np.ascontiguousarray(mr[256:512, 256:640]).astype(np.uint16)
    rgb = np.ascontiguousarray(pixels_of("SC_rgb.dcm").pixel_array)
    pgm = os.path.join(work, "g.pgm")
    with open(pgm, "wb") as f:
        f.write(b"P5\n%d %d\n4095\n" % (gray.shape[1], gray.shape[0]) + gray.astype(">u2").tobytes())
    ppm = os.path.join(work, "c.ppm")
    with open(ppm, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (rgb.shape[1], rgb.shape[0]) + rgb.tobytes())
    variants = [
        ("htj2k_gray12_lossless", pgm, gray, ["-reversible", "true"], "1.2.840.10008.1.2.4.201", 12, "MONOCHROME2"),
        ("htj2k_gray12_lossless_rpcl", pgm, gray, ["-reversible", "true", "-prog_order", "RPCL"],
         "1.2.840.10008.1.2.4.202", 12, "MONOCHROME2"),
        ("htj2k_rgb_lossless", ppm, rgb, ["-reversible", "true"], "1.2.840.10008.1.2.4.201", 8, "YBR_RCT"),
        ("htj2k_gray12_lossy", pgm, None, ["-qstep", "0.002"], "1.2.840.10008.1.2.4.203", 12, "MONOCHROME2"),
        ("htj2k_rgb_lossy", ppm, None, ["-qstep", "0.01"], "1.2.840.10008.1.2.4.203", 8, "YBR_ICT"),
    ]
    for name, src, source, options, ts, bits, photometric in variants:
        j2c = os.path.join(work, name + ".j2c")
        run(["ojph_compress", "-i", src, "-o", j2c] + options)
        with open(j2c, "rb") as f:
            codestream = f.read()
        arr = gray if src == pgm else rgb
        ds = image_dataset(arr.astype(np.uint16) if src == pgm else arr, bits_stored=bits, photometric=photometric)
        path = os.path.join(work, name + ".dcm")
        save_dataset(path, ds, ts, encapsulate([codestream]))
        if source is not None:
            add_encapsulated_case(writer, name, path, "source pixels (lossless)", source)
        else:
            add_encapsulated_case(writer, name, path, "pydicom pixel_array", tolerance=1,
                                  note="lossy HTJ2K: OpenJPEG here vs pylibjpeg-openjpeg's OpenJPEG, ±1")


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = 0
                self.n = 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def jpeg_lossless_encode(img, precision, predictor, point_transform=0, restart_interval=0):
    """Encodes img (rows x cols [x comps], unsigned) as JPEG lossless, one interleaved scan,
    with a fixed Huffman table that has codes of 2 to 16 bits."""
    if img.ndim == 2:
        img = img[:, :, None]
    rows, cols, comps = img.shape
    x = (img.astype(np.int64) >> point_transform)
    lengths = [2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]  # for categories 0..16
    counts = [0] * 16
    for length in lengths:
        counts[length - 1] += 1
    order = sorted(range(17), key=lambda s: (lengths[s], s))
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for s in order:
            if lengths[s] == length:
                codes[s] = (code, length)
                code += 1
        code <<= 1
    bits = BitWriter()
    initial = 1 << (precision - point_transform - 1)
    segments = []
    mcus_left = restart_interval
    reset = True
    first_line = 0
    rst = 0
    for yy in range(rows):
        for xx in range(cols):
            if restart_interval:
                if mcus_left == 0:
                    bits.flush()
                    segments.append(bytes(bits.out))
                    bits = BitWriter()
                    segments.append(bytes([0xFF, 0xD0 + rst]))
                    rst = (rst + 1) % 8
                    mcus_left = restart_interval
                    reset = True
                    first_line = yy
                mcus_left -= 1
            for c in range(comps):
                if reset:
                    p = initial
                elif yy == first_line:
                    p = x[yy, xx - 1, c]
                elif xx == 0:
                    p = x[yy - 1, xx, c]
                else:
                    ra, rb, rc = x[yy, xx - 1, c], x[yy - 1, xx, c], x[yy - 1, xx - 1, c]
                    p = [None, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1),
                         (ra + rb) >> 1][predictor]
                d = int(x[yy, xx, c] - p) & 0xFFFF
                if d >= 0x8000:
                    d -= 0x10000
                if d == 0:
                    s = 0
                elif d == 32768:
                    s = 16
                else:
                    s = abs(d).bit_length()
                bits.put(*codes[s])
                if 0 < s < 16:
                    bits.put(d if d > 0 else d + (1 << s) - 1, s)
            reset = False
    bits.flush()
    segments.append(bytes(bits.out))

    def segment(marker, payload):
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    sof = bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big") + bytes([comps])
    for c in range(comps):
        sof += bytes([c + 1, 0x11, 0])
    dht = bytes([0x00]) + bytes(counts) + bytes(order)
    sos = bytes([comps]) + b"".join(bytes([c + 1, 0x00]) for c in range(comps)) + bytes([predictor, 0, point_transform])
    out = b"\xFF\xD8" + segment(0xC4, dht) + segment(0xC3, sof)
    if restart_interval:
        out += segment(0xDD, restart_interval.to_bytes(2, "big"))
    out += segment(0xDA, sos) + b"".join(segments) + b"\xFF\xD9"
    return out


def restart_cases(writer, work):
    ct = pixels_of("CT_small.dcm").pixel_array.astype(np.int64) + 2048   # signed -> unsigned 16-bit
    ct = ct.astype(np.uint16)[:48, :64]
    rgb = np.ascontiguousarray(pixels_of("SC_rgb.dcm").pixel_array[:40, :50])
    variants = [
        ("swift_jpegll_ri_rows_sv1", ct, 16, 1, 0, 64 * 2, "1.2.840.10008.1.2.4.70"),
        ("swift_jpegll_ri_rgb_sv4", rgb, 8, 4, 0, 50, "1.2.840.10008.1.2.4.57"),
        ("swift_jpegll_ri_pt3_sv5", ct, 16, 5, 3, 64, "1.2.840.10008.1.2.4.57"),
        ("swift_jpegll_no_ri_sv6", ct, 16, 6, 0, 0, "1.2.840.10008.1.2.4.57"),
    ]
    for name, img, precision, predictor, pt, ri, ts in variants:
        stream = jpeg_lossless_encode(img, precision, predictor, pt, ri)
        ds = image_dataset(img)
        path = os.path.join(work, name + ".dcm")
        save_dataset(path, ds, ts, encapsulate([stream]))
        source = (img.astype(np.int64) >> pt) << pt
        add_encapsulated_case(writer, name, path, "source pixels (lossless)", source.astype(img.dtype), check_pydicom=pt == 0)
    # A restart interval that is not a whole number of rows: T.81 leaves the prediction after
    # such a restart ambiguous, IJG libjpeg (dcmtk) refuses it, pylibjpeg-libjpeg decodes it
    # differently; dwc refuses it too (CodecError.unsupported).
    stream = jpeg_lossless_encode(ct, 16, 7, 0, 100)
    path = os.path.join(work, "mid_row_restart.dcm")
    save_dataset(path, image_dataset(ct), "1.2.840.10008.1.2.4.57", encapsulate([stream]))
    add_encapsulated_case(writer, "swift_jpegll_ri_mid_row", path, "none: must be refused", None, check_pydicom=False,
                          expect="error")


def native_cases(writer):
    """Native frames with expectations computed here, independently of pydicom."""
    rng = np.random.default_rng(1234)

    def add(name, ds_attrs, data, expected_frames, vr="OW", big_endian=False, ts="1.2.840.10008.1.2.1"):
        case = {"name": name, "origin": "synthesized", "oracle": "computed by the fixture script",
                "transferSyntax": ts, "attributes": ds_attrs, "native": {
                    "file": writer.write(f"{name}.pixeldata.bin", data), "vr": vr, "bigEndian": big_endian},
                "frames": [], "tolerance": 0, "toleranceNote": "exact", "pixelCheck": True, "expect": "decode"}
        for i, arr in enumerate(expected_frames):
            entry = {"index": i, "file": None}
            entry.update(writer.expected(name, i, arr))
            case["frames"].append(entry)
        writer.add(case)

    def attrs(rows, cols, spp, ba, bs, signed, pi, frames=None, planar=None):
        return {"Rows": rows, "Columns": cols, "SamplesPerPixel": spp, "BitsAllocated": ba, "BitsStored": bs,
                "HighBit": bs - 1, "PixelRepresentation": 1 if signed else 0, "PhotometricInterpretation": pi,
                "PlanarConfiguration": planar, "NumberOfFrames": None if frames is None else str(frames)}

    # 12-bit signed in 16 bits with garbage in the unused high bits.
    values = rng.integers(-2048, 2048, size=(3, 7, 9))
    raw = (values & 0x0FFF) | (rng.integers(0, 16, size=values.shape) << 12)
    add("native_signed12_in16_garbage", attrs(7, 9, 1, 16, 12, True, "MONOCHROME2", frames=3),
        raw.astype("<u2").tobytes(), [v.astype("<i2") for v in values])
    # The same, unsigned: high bits masked.
    uvalues = rng.integers(0, 4096, size=(2, 5, 6))
    raw = uvalues | (rng.integers(0, 16, size=uvalues.shape) << 12)
    add("native_unsigned12_in16_garbage", attrs(5, 6, 1, 16, 12, False, "MONOCHROME2", frames=2),
        raw.astype("<u2").tobytes(), [v.astype("<u2") for v in uvalues])
    # 8-bit signed, 32-bit signed, 32-bit unsigned big endian.
    v8 = rng.integers(-128, 128, size=(4, 5)).astype("i1")
    add("native_signed8", attrs(4, 5, 1, 8, 8, True, "MONOCHROME2"), v8.tobytes(), [v8], vr="OB")
    v32 = rng.integers(-2**31, 2**31, size=(3, 4)).astype("<i4")
    add("native_signed32", attrs(3, 4, 1, 32, 32, True, "MONOCHROME2"), v32.tobytes(), [v32])
    u32 = rng.integers(0, 2**32, size=(2, 3, 4), dtype=np.uint64).astype("<u4")
    add("native_unsigned32_big_endian", attrs(3, 4, 1, 32, 32, False, "MONOCHROME2", frames=2),
        u32.astype(">u4").tobytes(), list(u32), vr="OL", big_endian=True, ts="1.2.840.10008.1.2.2")
    # 1-bit, frames not byte aligned (5x5 = 25 bits per frame), 3 frames.
    bits = rng.integers(0, 2, size=(3, 5, 5)).astype("u1")
    packed = np.packbits(bits.reshape(-1), bitorder="little").tobytes()
    add("native_1bit_unaligned_frames", attrs(5, 5, 1, 1, 1, False, "MONOCHROME2", frames=3), packed, list(bits), vr="OB")
    # RGB planar configuration 1, 16-bit.
    rgb16 = rng.integers(0, 65536, size=(4, 6, 3)).astype("<u2")
    planar = np.ascontiguousarray(rgb16.transpose(2, 0, 1))
    add("native_rgb16_planar", attrs(4, 6, 3, 16, 16, False, "RGB", planar=1), planar.tobytes(), [rgb16])
    # YBR_FULL_422, 8-bit: Y1 Y2 Cb Cr.
    y = rng.integers(0, 256, size=(3, 8)).astype("u1")
    cb = rng.integers(0, 256, size=(3, 4)).astype("u1")
    cr = rng.integers(0, 256, size=(3, 4)).astype("u1")
    stored = np.stack([y[:, 0::2], y[:, 1::2], cb, cr], axis=-1).reshape(-1)
    full = np.stack([y, np.repeat(cb, 2, axis=1), np.repeat(cr, 2, axis=1)], axis=-1)
    add("native_ybr_full_422", attrs(3, 8, 3, 8, 8, False, "YBR_FULL_422", planar=0), stored.tobytes(), [full], vr="OB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--max-frames", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    writer = Writer(args.out)
    pydicom_cases(writer, args.max_frames)
    with tempfile.TemporaryDirectory() as work:
        dcmtk_cases(writer, work)
        htj2k_cases(writer, work)
        restart_cases(writer, work)
    native_cases(writer)
    writer.finish()
    print(f"make-codec-fixtures: {len(writer.cases)} cases, {len(writer.skipped)} skipped, in {args.out}")


if __name__ == "__main__":
    main()
