import DicomCodecs
import Foundation
import Testing

/// Reads a PNG independently of libpng: chunk CRCs, zlib inflation and all five row filters,
/// in Python's standard library. Prints "width height depth colortype" and writes the raw
/// samples (big endian for 16 bits) to argv[2].
let pngReader = #"""
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
    assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, "CRC of " + kind.decode()
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + n
    if kind == b"IEND": break
w, h, depth, ctype = ihdr[:4]
channels = {0: 1, 2: 3}[ctype]
bpp = channels * depth // 8
raw = zlib.decompress(idat)
stride = w * bpp
out, prev = bytearray(), bytearray(stride)
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    out += line
    prev = line
open(sys.argv[2], "wb").write(out)
print(w, h, depth, ctype)
"""#

@Suite("Image encoders")
struct EncoderTests {
    func gradient(width: Int, height: Int, channels: Int, bitDepth: Int) throws -> RasterImage {
        var samples: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let v = (x * 37 + y * 91 + c * 1000) * (bitDepth == 16 ? 257 : 1)
                    if bitDepth == 8 {
                        samples.append(UInt8(truncatingIfNeeded: v))
                    } else {
                        samples.append(UInt8(truncatingIfNeeded: v))
                        samples.append(UInt8(truncatingIfNeeded: v >> 8))
                    }
                }
            }
        }
        return try RasterImage(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
    }

    func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("dwc-codec-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
    }

    @Test("PNG round trip through an independent reader", arguments: [(1, 8), (3, 8), (1, 16), (3, 16)])
    func png(channels: Int, bitDepth: Int) throws {
        let image = try gradient(width: 37, height: 23, channels: channels, bitDepth: bitDepth)
        for encoder in [PNGEncoder(), PNGEncoder(compressionLevel: 9, fastFilters: false)] {
            let png = try encoder.encode(image)
            let file = temporaryFile("\(channels)-\(bitDepth).png"), raw = temporaryFile("\(channels)-\(bitDepth).raw")
            defer { try? FileManager.default.removeItem(at: file); try? FileManager.default.removeItem(at: raw) }
            try Data(png).write(to: file)
            let (status, output) = runProcess(["python3", "-c", pngReader, file.path, raw.path])
            #expect(status == 0, "\(output)")
            #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "37 23 \(bitDepth) \(channels == 1 ? 0 : 2)")
            var expected = image.samples
            if bitDepth == 16 { NativeDecoder.swapBytes(&expected, wordSize: 2) }
            #expect([UInt8](try Data(contentsOf: raw)) == expected)
        }
    }

    @Test("PNG files open in Pillow")
    func pngPillow() throws {
        let image = try gradient(width: 16, height: 9, channels: 3, bitDepth: 8)
        let file = temporaryFile("pillow.png")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(try PNGEncoder().encode(image)).write(to: file)
        let script = "from PIL import Image; im = Image.open('\(file.path)'); print(im.mode, im.size, im.getpixel((3, 2)))"
        let (status, output) = runProcess(["python3", "-c", script])
        let pixel = (2 * 16 + 3) * 3
        #expect(status == 0, "\(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines)
                == "RGB (16, 9) (\(image.samples[pixel]), \(image.samples[pixel + 1]), \(image.samples[pixel + 2]))")
    }

    @Test("JPEG round trip through the JPEG decoder", arguments: [1, 3])
    func jpeg(channels: Int) throws {
        let image = try gradient(width: 40, height: 24, channels: channels, bitDepth: 8)
        let jpeg = try JPEGEncoder(quality: 100, subsampling: .none).encode(image)
        #expect(jpeg.starts(with: [0xFF, 0xD8]))
        let d = try PixelDescription(rows: 24, columns: 40, samplesPerPixel: channels, bitsAllocated: 8,
                                     photometricInterpretation: channels == 1 ? "MONOCHROME2" : "YBR_FULL",
                                     transferSyntaxUID: TransferSyntaxUID.jpegBaseline)
        let decoded = try JPEGBaselineDecoder().decode(jpeg, description: d)
        let difference = zip(decoded.samples, image.samples).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(difference <= 8, "quality 100 4:4:4 round trip differs by \(difference)")
        // Lower quality and subsampling make smaller files.
        let small = try JPEGEncoder(quality: 50).encode(image)
        #expect(small.count < jpeg.count)
    }

    @Test("PNM headers and samples")
    func pnm() throws {
        let gray = try RasterImage(width: 2, height: 1, channels: 1, bitDepth: 16, samples: [0x34, 0x12, 0xFF, 0x00])
        #expect(PNMEncoder().encode(gray) == Array("P5\n2 1\n65535\n".utf8) + [0x12, 0x34, 0x00, 0xFF])
        let rgb = try RasterImage(width: 1, height: 1, channels: 3, bitDepth: 8, samples: [1, 2, 3])
        #expect(PNMEncoder().encode(rgb) == Array("P6\n1 1\n255\n".utf8) + [1, 2, 3])
    }

    @Test("images and options out of range are refused")
    func invalid() throws {
        #expect(throws: CodecError.self) { try RasterImage(width: 2, height: 2, channels: 1, bitDepth: 8, samples: [0, 0, 0]) }
        #expect(throws: CodecError.self) { try RasterImage(width: 0, height: 2, channels: 1, bitDepth: 8, samples: []) }
        #expect(throws: CodecError.self) { try RasterImage(width: 1, height: 1, channels: 2, bitDepth: 8, samples: [0, 0]) }
        #expect(throws: CodecError.self) { try RasterImage(width: 1, height: 1, channels: 1, bitDepth: 12, samples: [0, 0]) }
        let image = try gradient(width: 4, height: 4, channels: 1, bitDepth: 16)
        #expect(throws: CodecError.self) { try JPEGEncoder().encode(image) }
        #expect(throws: CodecError.self) { try JPEGEncoder(quality: 0).encode(try gradient(width: 4, height: 4, channels: 1, bitDepth: 8)) }
        #expect(throws: CodecError.self) { try PNGEncoder(compressionLevel: 10).encode(image) }
    }
}
