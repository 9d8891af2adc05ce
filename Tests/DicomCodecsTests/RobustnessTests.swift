import DicomCodecs
import DicomCore
import Foundation
import Testing
import DicomTestSupport

/// Inconsistent descriptions, truncated and corrupt frames: a CodecError every time, never a
/// crash (in Swift or in a C library).
@Suite("Bad input")
struct RobustnessTests {
    // MARK: Descriptions

    @Test("descriptions are read with their defaults")
    func descriptionDefaults() throws {
        var ds = DataSet()
        ds.set(us(Tag(0x0028, 0x0010), 4))
        ds.set(us(Tag(0x0028, 0x0011), 6))
        ds.set(us(Tag(0x0028, 0x0100), 16))
        let d = try PixelDescription(dataSet: ds, transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        #expect(d.samplesPerPixel == 1)
        #expect(d.bitsStored == 16)
        #expect(d.highBit == 15)
        #expect(!d.isSigned)
        #expect(d.photometricInterpretation == "MONOCHROME2")
        #expect(d.numberOfFrames == 1)
        #expect(d.nativeFrameLength == 48)
        #expect(d.decodedFrameLength == 48)
    }

    @Test("inconsistent descriptions are refused", arguments: [
        ("Bits Stored > Bits Allocated", 8, 12, 1, 1, 2, 2),
        ("Bits Allocated 12", 12, 12, 1, 1, 2, 2),
        ("Bits Allocated 64", 64, 64, 1, 1, 2, 2),
        ("Bits Stored 0", 16, 0, 1, 1, 2, 2),
        ("Samples per Pixel 2", 8, 8, 2, 1, 2, 2),
        ("Samples per Pixel 4", 8, 8, 4, 1, 2, 2),
        ("no rows", 8, 8, 1, 1, 0, 2),
        ("too many columns", 8, 8, 1, 1, 2, 70000),
        ("0 frames", 8, 8, 1, 0, 2, 2),
        ("frame too large", 32, 32, 3, 1, 65535, 65535),
    ])
    func invalidDescriptions(_ name: String, bitsAllocated: Int, bitsStored: Int, samples: Int, frames: Int, rows: Int, columns: Int) {
        #expect(throws: CodecError.self, "\(name)") {
            try PixelDescription(rows: rows, columns: columns, samplesPerPixel: samples, bitsAllocated: bitsAllocated,
                                 bitsStored: bitsStored, numberOfFrames: frames, transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        }
    }

    @Test("a data set without Rows or with Pixel Representation 2 is refused")
    func invalidDataSets() {
        var ds = DataSet()
        ds.set(us(Tag(0x0028, 0x0011), 6))
        ds.set(us(Tag(0x0028, 0x0100), 16))
        #expect(throws: CodecError.self) { try PixelDescription(dataSet: ds, transferSyntaxUID: "1.2.840.10008.1.2.1") }
        ds.set(us(Tag(0x0028, 0x0010), 6))
        ds.set(us(Tag(0x0028, 0x0103), 2))
        #expect(throws: CodecError.self) { try PixelDescription(dataSet: ds, transferSyntaxUID: "1.2.840.10008.1.2.1") }
    }

    @Test("unknown transfer syntaxes have no decoder; the error names the syntax")
    func unsupportedSyntax() throws {
        #expect(DecoderRegistry.decoder(for: "1.2.840.10008.1.2.4.100") == nil)
        let d = try PixelDescription(rows: 2, columns: 2, bitsAllocated: 8, transferSyntaxUID: "1.2.840.10008.1.2.4.100")
        do {
            _ = try DecoderRegistry.decode([0, 0, 0, 0], description: d)
            Issue.record("decoded an MPEG-2 frame")
        } catch let error as CodecError {
            guard case .unsupported(let uid, _) = error else { Issue.record("\(error)"); return }
            #expect(uid == "1.2.840.10008.1.2.4.100")
            #expect(error.description.contains("1.2.840.10008.1.2.4.100"))
        }
        for uid in DecoderRegistry.supportedTransferSyntaxes {
            #expect(DecoderRegistry.decoder(for: uid) != nil, "\(uid)")
        }
    }

    // MARK: Native

    @Test("native frames shorter than the description are refused; longer ones are cut")
    func nativeSizes() throws {
        let d = try PixelDescription(rows: 3, columns: 3, bitsAllocated: 16, transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        #expect(throws: CodecError.self) { try NativeDecoder().decode([UInt8](repeating: 1, count: 17), description: d) }
        let frame = try NativeDecoder().decode([UInt8](repeating: 1, count: 19), description: d)
        #expect(frame.values() == [Int](repeating: 0x0101, count: 9))
        let bits = try PixelDescription(rows: 3, columns: 3, bitsAllocated: 1, transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        #expect(throws: CodecError.self) { try NativeDecoder().decode([0xFF], description: bits) }
        #expect(throws: CodecError.self) { try NativeDecoder().decode([0xFF, 0xFF], description: bits, bitOffset: 8) }
        let ones = try NativeDecoder().decode([0b1010_0000, 0b0000_0101], description: bits, bitOffset: 5)
        #expect(ones.values() == [1, 0, 1, 1, 0, 1, 0, 0, 0])
    }

    @Test("signed and unsigned samples, with garbage above Bits Stored")
    func nativeBits() throws {
        let signed = try PixelDescription(rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12, isSigned: true,
                                          transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        // 0x0800 = -2048 in 12 bits; 0xF7FF = 2047 with junk; 0x1FFF = -1 with junk.
        let s = try NativeDecoder().decode([0x00, 0x08, 0xFF, 0xF7, 0xFF, 0x1F], description: signed)
        #expect(s.values() == [-2048, 2047, -1])
        #expect(s.operations.contains(.signExtended(fromBits: 12)))
        let unsigned = try PixelDescription(rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12,
                                            transferSyntaxUID: TransferSyntaxUID.explicitVRLittleEndian)
        let u = try NativeDecoder().decode([0x00, 0x08, 0xFF, 0xF7, 0xFF, 0x1F], description: unsigned)
        #expect(u.values() == [2048, 2047, 4095])
        var big: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9A]
        NativeDecoder.swapBytes(&big, wordSize: 2)
        #expect(big == [0x34, 0x12, 0x78, 0x56, 0x9A])
        #expect(NativeDecoder.bigEndianWordSize(bitsAllocated: 8, vr: .OW) == 2)
        #expect(NativeDecoder.bigEndianWordSize(bitsAllocated: 8, vr: .OB) == 1)
        #expect(NativeDecoder.bigEndianWordSize(bitsAllocated: 32, vr: .OL) == 4)
    }

    // MARK: RLE

    /// An RLE frame of `planes` (each `pixels` bytes), PackBits literal runs only.
    func rleFrame(_ planes: [[UInt8]]) -> [UInt8] {
        var segments: [[UInt8]] = []
        for plane in planes {
            var out: [UInt8] = []
            var i = 0
            while i < plane.count {
                let n = min(128, plane.count - i)
                out.append(UInt8(n - 1))
                out += plane[i..<(i + n)]
                i += n
            }
            segments.append(out)
        }
        var header = [UInt8](repeating: 0, count: 64)
        func put(_ value: Int, at index: Int) {
            for b in 0..<4 { header[index + b] = UInt8(truncatingIfNeeded: value >> (8 * b)) }
        }
        put(segments.count, at: 0)
        var offset = 64
        for (k, segment) in segments.enumerated() {
            put(offset, at: 4 + 4 * k)
            offset += segment.count
        }
        return header + segments.flatMap { $0 }
    }

    @Test("RLE: a synthesized 16-bit signed frame decodes; replicate runs too")
    func rleSynthesized() throws {
        let d = try PixelDescription(rows: 2, columns: 3, bitsAllocated: 16, isSigned: true, transferSyntaxUID: TransferSyntaxUID.rleLossless)
        let values: [Int16] = [-1, 0, 1, 300, -300, 32767]
        let high = values.map { UInt8(truncatingIfNeeded: UInt16(bitPattern: $0) >> 8) }
        let low = values.map { UInt8(truncatingIfNeeded: UInt16(bitPattern: $0)) }
        let frame = try RLEDecoder().decode(rleFrame([high, low]), description: d)
        #expect(frame.values() == values.map(Int.init))
        // A replicate run (-5 → 6 copies) for a 1-byte plane, then a no-op byte (-128).
        let g = try PixelDescription(rows: 2, columns: 3, bitsAllocated: 8, transferSyntaxUID: TransferSyntaxUID.rleLossless)
        var header = [UInt8](repeating: 0, count: 64)
        header[0] = 1; header[4] = 64
        let run = try RLEDecoder().decode(header + [0x80, 0xFB, 7], description: g)
        #expect(run.values() == [7, 7, 7, 7, 7, 7])
    }

    @Test("RLE: bad headers and short segments are refused")
    func rleBad() throws {
        let d = try PixelDescription(rows: 2, columns: 3, bitsAllocated: 16, transferSyntaxUID: TransferSyntaxUID.rleLossless)
        let good = rleFrame([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]])
        _ = try RLEDecoder().decode(good, description: d)
        var cases: [(String, [UInt8])] = []
        var pastEnd = good
        pastEnd[8] = 0xFF; pastEnd[9] = 0xFF  // second offset far past the end
        cases.append(("offset past the end", pastEnd))
        var count = good
        count[0] = 3
        cases.append(("segment count", count))
        var first = good
        first[4] = 60
        cases.append(("first offset not 64", first))
        var order = good
        order[8] = 64
        cases.append(("offsets not ascending", order))
        cases.append(("truncated header", Array(good[0..<40])))
        cases.append(("truncated segment", Array(good[0..<(good.count - 3)])))
        cases.append(("empty", []))
        for (name, frame) in cases {
            #expect(throws: CodecError.self, "\(name)") { try RLEDecoder().decode(frame, description: d) }
        }
        let eight = try PixelDescription(rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 8, transferSyntaxUID: TransferSyntaxUID.rleLossless)
        #expect(throws: CodecError.self, "16-bit frame for an 8-bit description") { try RLEDecoder().decode(good, description: eight) }
    }

    // MARK: Compressed frames from the fixtures, mutilated

    /// One decodable frame per syntax family, with its description.
    func sampleFrames() throws -> [(String, [UInt8], PixelDescription)] {
        let manifest = try CodecFixtures.load()
        let names = ["SC_rgb_dcmtk_+eb+cy+np.dcm", "JPGExtended.dcm", "JPEG-LL.dcm", "swift_jpegll_ri_rgb_sv4",
                     "MR_small_jpeg_ls_lossless.dcm", "SC_rgb_jls_lossy_line.dcm", "US1_J2KR.dcm", "MR_small_jp2klossless.dcm",
                     "GDCMJ2K_TextGBR.dcm", "htj2k_rgb_lossless", "SC_rgb_rle.dcm", "MR_small_RLE.dcm"]
        return try names.map { name in
            let c = try #require(manifest.cases.first { $0.name == name }, "fixture \(name)")
            let file = try #require(c.frames[0].file)
            return (name, try CodecFixtures.bytes(file),
                    try PixelDescription(dataSet: c.attributes.dataSet, transferSyntaxUID: c.transferSyntax))
        }
    }

    @Test("truncated frames give a CodecError")
    func truncated() throws {
        for (name, frame, d) in try sampleFrames() {
            _ = try DecoderRegistry.decode(frame, description: d)
            for fraction in [0.0, 0.02, 0.3, 0.6, 0.9] {
                let cut = Array(frame[0..<Int(Double(frame.count) * fraction)])
                #expect(throws: CodecError.self, "\(name) cut to \(cut.count) of \(frame.count) bytes") {
                    try DecoderRegistry.decode(cut, description: d)
                }
            }
        }
    }

    @Test("frames whose size disagrees with the description give a CodecError")
    func sizeMismatch() throws {
        for (name, frame, d) in try sampleFrames() {
            let variants = [
                try PixelDescription(rows: d.rows + 1, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bitsAllocated: d.bitsAllocated,
                                     bitsStored: d.bitsStored, isSigned: d.isSigned, photometricInterpretation: d.photometricInterpretation,
                                     transferSyntaxUID: d.transferSyntaxUID),
                try PixelDescription(rows: d.rows, columns: max(1, d.columns - 1), samplesPerPixel: d.samplesPerPixel,
                                     bitsAllocated: d.bitsAllocated, bitsStored: d.bitsStored, isSigned: d.isSigned,
                                     photometricInterpretation: d.photometricInterpretation, transferSyntaxUID: d.transferSyntaxUID),
                try PixelDescription(rows: d.rows, columns: d.columns, samplesPerPixel: 4 - d.samplesPerPixel, bitsAllocated: d.bitsAllocated,
                                     bitsStored: d.bitsStored, isSigned: d.isSigned, transferSyntaxUID: d.transferSyntaxUID),
            ]
            for variant in variants {
                #expect(throws: CodecError.self, "\(name) decoded as \(variant.rows)×\(variant.columns)×\(variant.samplesPerPixel)") {
                    try DecoderRegistry.decode(frame, description: variant)
                }
            }
            if d.bitsAllocated == 16 {
                let narrow = try PixelDescription(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bitsAllocated: 8,
                                                  photometricInterpretation: d.photometricInterpretation, transferSyntaxUID: d.transferSyntaxUID)
                #expect(throws: CodecError.self, "\(name) decoded into 8 bits") { try DecoderRegistry.decode(frame, description: narrow) }
            }
        }
    }

    @Test("corrupted bytes give a frame or a CodecError, never a crash")
    func corrupted() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for (name, frame, d) in try sampleFrames() {
            for round in 0..<24 {
                var bad = frame
                // Early rounds hit the headers, later ones anywhere.
                let span = round < 12 ? min(bad.count, 300) : bad.count
                for _ in 0..<(1 + round % 4) {
                    bad[Int(generator.next() % UInt64(span))] = UInt8(truncatingIfNeeded: generator.next())
                }
                do {
                    let decoded = try DecoderRegistry.decode(bad, description: d)
                    #expect(decoded.samples.count == d.decodedFrameLength, "\(name) round \(round)")
                } catch is CodecError {
                } catch {
                    Issue.record("\(name) round \(round): \(error)")
                }
            }
            let garbage = (0..<frame.count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(throws: CodecError.self, "\(name): random bytes") { try DecoderRegistry.decode(garbage, description: d) }
        }
    }

    @Test("JPEG lossless: a scan that uses an undefined Huffman table is refused")
    func losslessUndefinedTable() throws {
        let manifest = try CodecFixtures.load()
        let c = try #require(manifest.cases.first { $0.name == "swift_jpegll_no_ri_sv6" })
        var frame = try CodecFixtures.bytes(try #require(c.frames[0].file))
        let d = try PixelDescription(dataSet: c.attributes.dataSet, transferSyntaxUID: c.transferSyntax)
        // The scan header's table selector: FFDA, length, Ns=1, Cs, Td/Ta.
        let sos = try #require((0..<(frame.count - 1)).first { frame[$0] == 0xFF && frame[$0 + 1] == 0xDA })
        frame[sos + 6] = 0x30
        #expect(throws: CodecError.self) { try JPEGLosslessDecoder().decode(frame, description: d) }
    }
}

