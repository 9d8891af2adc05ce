import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

/// `dwc render` end to end: synthesized images with known parameters, exact output pixels.
@Suite struct RenderCLITests {
    typealias F = RenderFixture

    /// 1×6, 16-bit unsigned: 0, 100, 150, 200, 250, 300.
    static func ramp(_ extra: [DataElement] = [], photometric: String = "MONOCHROME2") -> RenderFixture {
        RenderFixture(rows: 1, columns: 6, photometric: photometric, values: [0, 100, 150, 200, 250, 300], extra: extra)
    }

    @Test func fileWindowLinearGivesExactPixels() throws {
        let s = try RenderScratch()
        let path = try s.file(Self.ramp(F.window("200", "200")))
        // PS3.3 C.11.2.1.2.1: c − 0.5 = 199.5, w − 1 = 199; x ≤ 100 → 0, x > 299 → 255.
        #expect(try renderPNM([path])?.samples == [0, 0, 64, 128, 192, 255])
        #expect(try renderPNM(["--use-window", "1", path])?.samples == [0, 0, 64, 128, 192, 255])
    }

    @Test func windowFunctionsFollowPS33() throws {
        let s = try RenderScratch()
        let path = try s.file(Self.ramp())
        #expect(try renderPNM(["--window", "200,200,LINEAR_EXACT", path])?.samples == [0, 0, 64, 128, 191, 255])
        #expect(try renderPNM(["--window", "200,200,SIGMOID", path])?.samples == [5, 30, 69, 128, 186, 225])
        // The function from the file: VOI LUT Function (0028,1056).
        let sigmoid = try s.file(Self.ramp(F.window("200", "200", function: "SIGMOID")), "sigmoid.dcm")
        #expect(try renderPNM([sigmoid])?.samples == [5, 30, 69, 128, 186, 225])
        // Width 1: a threshold at c − 0.5.
        #expect(try renderPNM(["--window", "150,1", path])?.samples == [0, 0, 255, 255, 255, 255])
        let bad = try DwcProcess.run(["render", "--format", "pnm", "--window", "200,0", path])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("width"))
        #expect(try DwcProcess.run(["render", "--format", "pnm", "--window", "200", path]).status == 1)
        #expect(try DwcProcess.run(["render", "--format", "pnm", "--window", "1,2,CUBIC", path]).status == 1)
    }

    @Test func signedDataWithRescaleAndNegativeCentres() throws {
        let s = try RenderScratch()
        // Stored −2000, 0, 224, 1024, 2024 with intercept −1024 → HU −3024, −1024, −800, 0, 1000.
        let ct = RenderFixture(rows: 1, columns: 5, signed: true, values: [-2000, 0, 224, 1024, 2024],
                               extra: F.rescale(slope: "1", intercept: "-1024"))
        let path = try s.file(ct)
        let expected = [0, 60, 96, 223, 255]
        #expect(try renderPNM(["--window", "-600,1600", path])?.samples == expected)
        #expect(try renderPNM(["--window=-600,1600", path])?.samples == expected)
        #expect(try renderPNM([path, "--window", "-600,1600,LINEAR"])?.samples == expected)
        // Without the modality stage the window sees stored values: all ≥ 199 except −2000, 0.
        #expect(try renderPNM(["--window", "-600,1600", "--no-modality", path])?.samples == [0, 223, 255, 255, 255])
        // Slope 2: HU = 2·stored − 1024; 0 → −1024, 224 → −576.
        let steep = try s.file(RenderFixture(rows: 1, columns: 2, signed: true, values: [0, 224], extra: F.rescale(slope: "2", intercept: "-1024")), "steep.dcm")
        #expect(try renderPNM(["--window", "-600,1600", steep])?.samples == [60, 131])
    }

    @Test func monochrome1IsInvertedUnlessThePresentationShapeSaysIdentity() throws {
        let s = try RenderScratch()
        let m1 = try s.file(Self.ramp(F.window("200", "200"), photometric: "MONOCHROME1"), "m1.dcm")
        #expect(try renderPNM([m1])?.samples == [255, 255, 191, 127, 63, 0])
        #expect(try renderPNM(["--change-polarity", m1])?.samples == [0, 0, 64, 128, 192, 255])
        let identity = try s.file(Self.ramp(F.window("200", "200") + [F.text(RenderTag(0x2050, 0x0020), .CS, "IDENTITY")], photometric: "MONOCHROME1"), "id.dcm")
        #expect(try renderPNM([identity])?.samples == [0, 0, 64, 128, 192, 255])
        let inverse = try s.file(Self.ramp(F.window("200", "200") + [F.text(RenderTag(0x2050, 0x0020), .CS, "INVERSE")]), "inv.dcm")
        #expect(try renderPNM([inverse])?.samples == [255, 255, 191, 127, 63, 0])
        #expect(try renderPNM(["--change-polarity", path(of: "plain.dcm", in: s, Self.ramp(F.window("200", "200")))])?.samples == [255, 255, 191, 127, 63, 0])
    }

    private func path(of name: String, in s: RenderScratch, _ fixture: RenderFixture) throws -> String {
        try s.file(fixture, name)
    }

    @Test func minMaxIsTheDefaultWithoutWindowOrLUT() throws {
        let s = try RenderScratch()
        let path = try s.file(RenderFixture(rows: 1, columns: 4, values: [10, 20, 30, 110]))
        // (x − 10) / 100 · 255, rounded half up.
        #expect(try renderPNM([path])?.samples == [0, 26, 51, 255])
        #expect(try renderPNM(["--min-max-window", path])?.samples == [0, 26, 51, 255])
        // A file window is ignored with --min-max-window.
        let windowed = try s.file(RenderFixture(rows: 1, columns: 4, values: [10, 20, 30, 110], extra: F.window("0", "1")), "w.dcm")
        #expect(try renderPNM(["--min-max-window", windowed])?.samples == [0, 26, 51, 255])
        #expect(try renderPNM([windowed])?.samples == [255, 255, 255, 255])
        // No VOI stage: the 16-bit range 0...65535 maps to 0...255.
        #expect(try renderPNM(["--no-windowing", path])?.samples == [0, 0, 0, 0])
        let wide = try s.file(RenderFixture(rows: 1, columns: 3, values: [0, 32768, 65535]), "wide.dcm")
        #expect(try renderPNM(["--no-windowing", wide])?.samples == [0, 128, 255])
        // --16bit keeps the precision: (x − 10) / 100 · 65535.
        let sixteen = try renderPNM(["--16bit", path])
        #expect(sixteen?.maxval == 65535)
        #expect(sixteen?.samples == [0, 6554, 13107, 65535])
    }

    @Test func voiLUTFromTheFile() throws {
        let s = try RenderScratch()
        // 8-bit LUT of 4 entries starting at 10: x ≤ 10 → 0, 11 → 100, 12 → 200, ≥ 13 → 255.
        let lut = F.sequence(RenderTag(0x0028, 0x3010), [F.lutItem(first: 10, bits: 8, data: [0, 100, 200, 255], explanation: "TEST")])
        let fixture = RenderFixture(rows: 1, columns: 6, bitsAllocated: 8, bitsStored: 8, values: [0, 10, 11, 12, 13, 200], extra: [lut])
        let path = try s.file(fixture)
        #expect(try renderPNM([path])?.samples == [0, 0, 100, 200, 255, 255])
        #expect(try renderPNM(["--use-voi-lut", "1", path])?.samples == [0, 0, 100, 200, 255, 255])
        let missing = try DwcProcess.run(["render", "--format", "pnm", "--use-voi-lut", "2", path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("has 1 VOI LUT"))
        // A window wins over the LUT by default; --use-voi-lut picks the LUT.
        let both = try s.file(RenderFixture(rows: 1, columns: 6, bitsAllocated: 8, bitsStored: 8, values: [0, 10, 11, 12, 13, 200],
                                            extra: [lut] + F.window("100", "201")), "both.dcm")
        #expect(try renderPNM([both])?.samples == [1, 13, 15, 16, 17, 255])
        #expect(try renderPNM(["--use-voi-lut", "1", both])?.samples == [0, 0, 100, 200, 255, 255])
        // 16-bit LUT entries scale from 0...65535.
        let lut16 = F.sequence(RenderTag(0x0028, 0x3010), [F.lutItem(first: 0, bits: 16, data: [0, 65535, 32768])])
        let p16 = try s.file(RenderFixture(rows: 1, columns: 3, bitsAllocated: 8, bitsStored: 8, values: [0, 1, 2], extra: [lut16]), "lut16.dcm")
        #expect(try renderPNM([p16])?.samples == [0, 255, 128])
    }

    @Test func modalityLUTSequence() throws {
        let s = try RenderScratch()
        let mlut = F.sequence(RenderTag(0x0028, 0x3000), [F.lutItem(first: -2, bits: 16, data: [0, 1000, 2000, 3000], firstSigned: true)])
        let path = try s.file(RenderFixture(rows: 1, columns: 4, signed: true, values: [-2, -1, 0, 1], extra: [mlut]))
        #expect(try renderPNM([path])?.samples == [0, 85, 170, 255])
        // Window on the LUT's output: 0..3000 through C 1500 W 1000.
        #expect(try renderPNM(["--window", "1500,1000", path])?.samples == [0, 0, 255, 255])
        #expect(try renderPNM(["--no-modality", path])?.samples == [0, 85, 170, 255])
        let info = try DwcProcess.run(["render", "--info", path])
        let object = try #require(try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any])
        #expect(object["modalityMin"] as? Double == 0)
        #expect(object["modalityMax"] as? Double == 3000)
    }

    @Test func paletteColourNormalAndSegmented() throws {
        let s = try RenderScratch()
        let descriptor = { (tag: RenderTag) in F.us(tag, 4, 0, 16) }
        let palette = RenderFixture(rows: 1, columns: 4, bitsAllocated: 8, bitsStored: 8, photometric: "PALETTE COLOR", values: [0, 1, 2, 3], extra: [
            descriptor(RenderTag(0x0028, 0x1101)), descriptor(RenderTag(0x0028, 0x1102)), descriptor(RenderTag(0x0028, 0x1103)),
            F.words(RenderTag(0x0028, 0x1201), [0, 65535, 0, 32768]),
            F.words(RenderTag(0x0028, 0x1202), [0, 0, 65535, 32768]),
            F.words(RenderTag(0x0028, 0x1203), [65535, 0, 0, 0]),
        ])
        let image = try #require(try renderPNM([try s.file(palette)]))
        #expect(image.channels == 3)
        #expect(image.samples == [0, 0, 255, 255, 0, 0, 0, 255, 0, 128, 128, 0])
        // Segmented (PS3.3 C.7.9.2): red discrete 0 then linear to 65535 over 3 entries; green
        // discrete 0, 65535 then an indirect copy of that segment; blue discrete.
        let segmented = RenderFixture(rows: 1, columns: 4, bitsAllocated: 8, bitsStored: 8, photometric: "PALETTE COLOR", values: [0, 1, 2, 3], extra: [
            descriptor(RenderTag(0x0028, 0x1101)), descriptor(RenderTag(0x0028, 0x1102)), descriptor(RenderTag(0x0028, 0x1103)),
            F.words(RenderTag(0x0028, 0x1221), [0, 1, 0, 1, 3, 65535]),
            F.words(RenderTag(0x0028, 0x1222), [0, 2, 0, 65535, 2, 1, 0, 0]),
            F.words(RenderTag(0x0028, 0x1223), [0, 4, 65535, 65535, 0, 0]),
        ])
        let seg = try #require(try renderPNM([try s.file(segmented, "seg.dcm")]))
        #expect(seg.samples == [0, 0, 255, 85, 255, 255, 170, 0, 0, 255, 255, 0])
    }

    @Test func rgbPlanarAndYBR() throws {
        let s = try RenderScratch()
        let planar = RenderFixture(rows: 2, columns: 2, bitsAllocated: 8, bitsStored: 8, photometric: "RGB", samplesPerPixel: 3,
                                   planarConfiguration: 1, values: [255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30])
        let expected = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
        #expect(try renderPNM([try s.file(planar, "pl.dcm")])?.samples == expected)
        let interleaved = RenderFixture(rows: 2, columns: 2, bitsAllocated: 8, bitsStored: 8, photometric: "RGB", samplesPerPixel: 3,
                                        values: expected)
        #expect(try renderPNM([try s.file(interleaved, "px.dcm")])?.samples == expected)
        // YBR_FULL (PS3.3 C.7.6.3.1.2): Y 128 neutral → 128; Y 100, Cr 200 → R 200.944, G 48.58, B 100.
        let ybr = RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, photometric: "YBR_FULL", samplesPerPixel: 3,
                                values: [128, 128, 128, 100, 128, 200])
        #expect(try renderPNM([try s.file(ybr, "ybr.dcm")])?.samples == [128, 128, 128, 201, 49, 100])
        // YBR_FULL_422 native: Y1 Y2 Cb Cr per pair of pixels.
        let ybr422 = RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, photometric: "YBR_FULL_422", samplesPerPixel: 3,
                                   values: [128, 100, 128, 200])
        #expect(try renderPNM([try s.file(ybr422, "ybr422.dcm")])?.samples == [229, 77, 128, 201, 49, 100])
        // 16-bit RGB scales to 8 bits.
        let deep = RenderFixture(rows: 1, columns: 1, bitsAllocated: 16, bitsStored: 16, photometric: "RGB", samplesPerPixel: 3,
                                 values: [65535, 32768, 0])
        #expect(try renderPNM([try s.file(deep, "deep.dcm")])?.samples == [255, 128, 0])
    }

    @Test func oneBitImages() throws {
        let s = try RenderScratch()
        let bits = RenderFixture(rows: 1, columns: 8, bitsAllocated: 1, bitsStored: 1, values: [1, 0, 1, 0, 0, 1, 0, 1])
        let path = try s.file(bits)
        #expect(try renderPNM([path])?.samples == [255, 0, 255, 0, 0, 255, 0, 255])
        #expect(try renderPNM(["--no-windowing", path])?.samples == [255, 0, 255, 0, 0, 255, 0, 255])
        // Three frames of 5 pixels: frames 2 and 3 start inside a byte.
        let frames = RenderFixture(rows: 1, columns: 5, bitsAllocated: 1, bitsStored: 1, frames: 3,
                                   values: [1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1])
        let multi = try s.file(frames, "multi.dcm")
        #expect(try renderPNM(["--frame", "2", "--no-windowing", multi])?.samples == [0, 255, 255, 0, 0])
        #expect(try renderPNM(["--frame", "3", "--no-windowing", multi])?.samples == [255, 0, 255, 0, 255])
    }

    @Test func perFrameFunctionalGroups() throws {
        let s = try RenderScratch()
        // Shared: rescale intercept −100. Frame 1 window C 0 W 100 (on −100...0), frame 2 none
        // of its own: the top-level window C 100 W 2 applies.
        let shared = F.sequence(RenderTag(0x5200, 0x9229), [[
            F.sequence(RenderTag(0x0028, 0x9145), [F.rescale(slope: "1", intercept: "-100")]),
        ]])
        let perFrame = F.sequence(RenderTag(0x5200, 0x9230), [
            [F.sequence(RenderTag(0x0028, 0x9132), [F.window("0", "100")])],
            [F.sequence(RenderTag(0x0020, 0x9111), [[F.text(RenderTag(0x0020, 0x9056), .SH, "1")]])],
        ])
        let fixture = RenderFixture(rows: 1, columns: 3, frames: 2, values: [50, 100, 150, 50, 100, 150],
                                    extra: [shared, perFrame] + F.window("100", "2"))
        let path = try s.file(fixture)
        // Frame 1: −50, 0, 50 through C 0 W 100 (c − 0.5 = −0.5, w − 1 = 99: x ≤ −50 → 0, x > 49 → 255).
        #expect(try renderPNM(["--frame", "1", path])?.samples == [0, 129, 255])
        // Frame 2: −50, 0, 50 through the top-level C 100 W 2: all at or below 99.
        #expect(try renderPNM(["--frame", "2", path])?.samples == [0, 0, 0])
        let info = try DwcProcess.run(["render", "--info", "--frame", "1", path])
        let object = try #require(try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any])
        #expect(object["transformsFrom"] as? String == "functional groups")
        let windows = try #require(object["windows"] as? [[String: Any]])
        #expect(windows.first?["width"] as? Double == 100)
    }

    @Test func multiFrameNamingAndTargets() throws {
        let s = try RenderScratch()
        let fixture = RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, frames: 3, values: [0, 10, 20, 30, 40, 50])
        let path = try s.file(fixture, "series.dcm")
        // A file OUT with several frames: {stem}.{frame}.{ext}.
        let r = try DwcProcess.run(["render", "--all-frames", "--no-windowing", path, s.path("out.png")])
        #expect(r.status == 0, "\(r.stderr)")
        for k in 1...3 {
            let data = try #require(FileManager.default.contents(atPath: s.path("out.\(k).png")))
            #expect(pngHeader(data)?.width == 2)
        }
        #expect(!FileManager.default.fileExists(atPath: s.path("out.png")))
        // A directory: the input's stem.
        let dir = s.path("dir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(try DwcProcess.run(["render", "--frames", "1,3", path, dir]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/series.1.png"))
        #expect(FileManager.default.fileExists(atPath: dir + "/series.3.png"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/series.2.png"))
        #expect(try DwcProcess.run(["render", path, "-o", dir + "/"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/series.png"))
        // A template: the frame's own pixels.
        #expect(try DwcProcess.run(["render", "--all-frames", "--no-windowing", path, s.path("t_{frame}.pgm")]).status == 0)
        let second = try PNMImage(try #require(FileManager.default.contents(atPath: s.path("t_2.pgm"))))
        #expect(second.samples == [20, 30])
        // One frame to stdout; several are refused there.
        #expect(try renderPNM(["--frame", "3", "--no-windowing", path])?.samples == [40, 50])
        let many = try DwcProcess.run(["render", "--all-frames", "--format", "pnm", path])
        #expect(many.status == 1)
        #expect(many.stdout.isEmpty)
        // Several inputs with -o DIR.
        let other = try s.file(RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, values: [1, 2]), "other.dcm", sop: "2.25.99")
        let both = s.path("both")
        try FileManager.default.createDirectory(atPath: both, withIntermediateDirectories: true)
        #expect(try DwcProcess.run(["render", path, other, "-o", both, "--format", "jpeg"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: both + "/series.jpg"))
        #expect(FileManager.default.fileExists(atPath: both + "/other.jpg"))
    }

    @Test func sizeAndScaleKeepTheAspectRatio() throws {
        let s = try RenderScratch()
        let values = (0..<(20 * 40)).map { $0 % 256 }
        let path = try s.file(RenderFixture(rows: 20, columns: 40, bitsAllocated: 8, bitsStored: 8, values: values))
        func size(_ args: [String]) throws -> (Int, Int)? {
            let r = try DwcProcess.run(["render"] + args + [path])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            return pngHeader(r.stdout).map { ($0.width, $0.height) }
        }
        #expect(try size(["--size", "10x10"])! == (10, 5))
        #expect(try size(["--size", "x10"])! == (20, 10))
        #expect(try size(["--size", "100x"])! == (100, 50))
        #expect(try size(["--scale", "2"])! == (80, 40))
        #expect(try size(["--scale", "0.25"])! == (10, 5))
        #expect(try DwcProcess.run(["render", "--size", "0x5", path]).status == 1)
        #expect(try DwcProcess.run(["render", "--size", "5x5", "--scale", "2", path]).status == 1)
        // Area averaging when shrinking: [0, 100, 200, 255] → [50, 228].
        let row = try s.file(RenderFixture(rows: 1, columns: 4, bitsAllocated: 8, bitsStored: 8, values: [0, 100, 200, 255]), "row.dcm")
        #expect(try renderPNM(["--no-windowing", "--size", "2x", row])?.samples == [50, 228])
        // Bilinear when enlarging, pixel centres aligned: [0, 255] → [0, 64, 191, 255] per row.
        let pair = try s.file(RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, values: [0, 255]), "pair.dcm")
        #expect(try renderPNM(["--no-windowing", "--scale", "2", pair])?.samples == [0, 64, 191, 255, 0, 64, 191, 255])
    }

    @Test func outputFormats() throws {
        let s = try RenderScratch()
        let path = try s.file(Self.ramp(F.window("200", "200")))
        let png = try DwcProcess.run(["render", path])
        #expect(pngHeader(png.stdout).map { [$0.width, $0.height, $0.bitDepth, $0.colorType] } == [6, 1, 8, 0])
        let png16 = try DwcProcess.run(["render", "--16bit", path])
        #expect(pngHeader(png16.stdout)?.bitDepth == 16)
        #expect(try DwcProcess.run(["render", path, s.path("a.jpg")]).status == 0)
        let jpeg = try #require(FileManager.default.contents(atPath: s.path("a.jpg")))
        #expect([UInt8](jpeg.prefix(3)) == [0xFF, 0xD8, 0xFF])
        #expect([UInt8](jpeg.suffix(2)) == [0xFF, 0xD9])
        let q = try DwcProcess.run(["render", "--format", "jpeg", "--quality", "20", path])
        #expect([UInt8](q.stdout.prefix(2)) == [0xFF, 0xD8])
        #expect(try DwcProcess.run(["render", "--format", "jpeg", "--16bit", path]).status == 1)
        #expect(try DwcProcess.run(["render", "--format", "gif", path]).status == 1)
        #expect(try DwcProcess.run(["render", path, s.path("a.tif")]).status == 1)
        #expect(try DwcProcess.run(["render", path, s.path("missing/a.png")]).status == 45)
        // PNM from the extension.
        #expect(try DwcProcess.run(["render", path, s.path("a.pgm")]).status == 0)
        #expect(try PNMImage(try #require(FileManager.default.contents(atPath: s.path("a.pgm")))).samples == [0, 0, 64, 128, 192, 255])
    }

    @Test func infoPrintsTheImageParameters() throws {
        let s = try RenderScratch()
        let lut = F.sequence(RenderTag(0x0028, 0x3010), [F.lutItem(first: 0, bits: 16, data: [0, 65535], explanation: "LUT A")])
        let ct = RenderFixture(rows: 2, columns: 3, bitsStored: 12, signed: true, values: [-5, 0, 5, 10, 100, 2047],
                               extra: F.rescale(slope: "1", intercept: "-1024") + [
                                   F.text(RenderTag(0x0028, 0x1050), .DS, "40\\-600"), F.text(RenderTag(0x0028, 0x1051), .DS, "400\\1600"),
                                   F.text(RenderTag(0x0028, 0x1055), .LO, "BRAIN\\LUNG"), lut])
        let path = try s.file(ct)
        let r = try DwcProcess.run(["render", "--info", path])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(o["rows"] as? Int == 2)
        #expect(o["columns"] as? Int == 3)
        #expect(o["frames"] as? Int == 1)
        #expect(o["photometricInterpretation"] as? String == "MONOCHROME2")
        #expect(o["bitsAllocated"] as? Int == 16)
        #expect(o["bitsStored"] as? Int == 12)
        #expect(o["pixelRepresentation"] as? Int == 1)
        #expect(o["min"] as? Int == -5)
        #expect(o["max"] as? Int == 2047)
        #expect(o["modalityMin"] as? Double == -1029)
        let windows = try #require(o["windows"] as? [[String: Any]])
        #expect(windows.count == 2)
        #expect(windows[1]["center"] as? Double == -600)
        #expect(windows[1]["explanation"] as? String == "LUNG")
        let luts = try #require(o["voiLUTs"] as? [[String: Any]])
        #expect(luts.first?["explanation"] as? String == "LUT A")
        #expect((o["voi"] as? String)?.hasPrefix("window 1") == true)
        // --info writes no image.
        #expect(try DwcProcess.run(["render", "--info", path, s.path("x.png")]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: s.path("x.png")))
        // --use-window 2 renders the lung window.
        #expect(try renderPNM(["--use-window", "2", path])?.samples.count == 6)
    }

    @Test func badInputFailsWithOneClearLine() throws {
        let s = try RenderScratch()
        // A JPEG Baseline file whose frame is no JPEG.
        var corrupt = RenderFixture(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8, syntax: "1.2.840.10008.1.2.4.50")
        corrupt.encapsulated = [[0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0x12, 0x34, 0x56]]
        let bad = try DwcProcess.run(["render", "--format", "pnm", try s.file(corrupt, "corrupt.dcm")])
        #expect(bad.status == 83)
        #expect(bad.stdout.isEmpty)
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(bad.stderr.hasPrefix("E: "))
        // Garbage of random bytes in each codestream kind must not crash either.
        for syntax in ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"] {
            var junk = RenderFixture(rows: 16, columns: 16, bitsAllocated: 8, bitsStored: 8, syntax: syntax)
            junk.encapsulated = [(0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }]
            let r = try DwcProcess.run(["render", "--format", "pnm", try s.file(junk, "junk.dcm")])
            #expect(r.status == 83, "\(syntax): \(r.status) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(syntax): \(r.stderr)")
        }
        // MPEG-2: no decoder.
        var mpeg = RenderFixture(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8, syntax: "1.2.840.10008.1.2.4.100")
        mpeg.encapsulated = [[0, 0, 1, 0xB3]]
        let unsupported = try DwcProcess.run(["render", "--format", "pnm", try s.file(mpeg, "mpeg.dcm")])
        #expect(unsupported.status == 82)
        #expect(unsupported.stderr.contains("1.2.840.10008.1.2.4.100"))
        #expect(unsupported.stderr.split(separator: "\n").count == 1)
        // Frames out of range: 84, naming the range.
        let three = try s.file(RenderFixture(rows: 1, columns: 2, bitsAllocated: 8, bitsStored: 8, frames: 3, values: [1, 2, 3, 4, 5, 6]), "three.dcm")
        for args in [["--frame", "4"], ["--frames", "2-5"], ["--frame", "0"]] {
            let r = try DwcProcess.run(["render", "--format", "pnm"] + args + [three])
            #expect(r.status == 84, "\(args)")
            #expect(r.stderr.contains("valid frames are 1-3"))
        }
        // Native pixel data shorter than a frame: 83.
        var short = RenderFixture(rows: 4, columns: 4, bitsAllocated: 16, bitsStored: 16, values: [1, 2, 3])
        short.frames = 1
        let truncated = try DwcProcess.run(["render", "--format", "pnm", try s.file(short, "short.dcm")])
        #expect(truncated.status == 83)
        // An inconsistent pixel description (Bits Stored > Bits Allocated): 83, before decoding.
        let inconsistent = try DwcProcess.run(["render", "--format", "pnm", try s.file(RenderFixture(rows: 1, columns: 2, bitsStored: 20, values: [1, 2]), "bits.dcm")])
        #expect(inconsistent.status == 83)
        #expect(inconsistent.stderr.contains("Bits Stored"))
        // Not DICOM, and missing.
        let text = s.path("text.dcm")
        try Data("not dicom at all, just some words that go on".utf8).write(to: URL(fileURLWithPath: text))
        #expect(try DwcProcess.run(["render", text]).status == 22)
        #expect(try DwcProcess.run(["render", s.path("none.dcm")]).status == 21)
        // A batch goes on after a failure and exits with the first failure's status.
        let good = try s.file(Self.ramp(), "good.dcm")
        let dir = s.path("batch")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let batch = try DwcProcess.run(["render", try s.file(mpeg, "mpeg2.dcm"), good, "-o", dir])
        #expect(batch.status == 82)
        #expect(FileManager.default.fileExists(atPath: dir + "/good.png"))
    }

    @Test func readsStdinAndSOPInstanceUIDs() throws {
        let s = try RenderScratch()
        let path = try s.file(Self.ramp(F.window("200", "200")), "a.dcm", sop: "2.25.777")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let piped = try DwcProcess.run(["render", "--format", "pnm", "-"], stdin: bytes)
        #expect(piped.status == 0)
        #expect(try PNMImage(piped.stdout).samples == [0, 0, 64, 128, 192, 255])
        // Through the index.
        let archive = s.path("archive")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path, toPath: archive + "/a.dcm")
        #expect(try DwcProcess.run(["index", "-A", archive]).status == 0)
        let byUID = try DwcProcess.run(["render", "-A", archive, "--format", "pnm", "2.25.777"])
        #expect(byUID.status == 0, "\(byUID.stderr)")
        #expect(try PNMImage(byUID.stdout).samples == [0, 0, 64, 128, 192, 255])
        #expect(try DwcProcess.run(["render", "-A", archive, "2.25.778"]).status == 21)
    }
}
