import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

/// `FrameTranscoder` (retrieve-frames --media-type) in process, and the JPEG path of
/// `dwc render` on a real baseline codestream (made by `dwc render --format jpeg`).
@Suite struct RenderTranscoderTests {
    typealias F = RenderFixture

    /// The frames of a file as `retrieve-frames` reads them.
    static func frames(_ path: String) throws -> (DicomFile, [[UInt8]]) {
        let file = try DicomFileLoader(stopBeforePixels: true).load(path)
        let layout = try FrameLocator.layout(of: file)
        let reader = FrameReader(source: file.source, layout: layout)
        return (file, try (1...layout.frameCount).map { try reader.frame($0) })
    }

    /// An 8×8 gray ramp as a JPEG Baseline DICOM file, the codestream from `dwc render`.
    static func jpegFile(in s: RenderScratch) throws -> (path: String, codestream: [UInt8], values: [Int]) {
        let values = (0..<64).map { ($0 % 8) * 30 + ($0 / 8) }
        let native = try s.file(RenderFixture(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8, values: values), "native.dcm")
        let r = try DwcProcess.run(["render", "--no-windowing", "--format", "jpeg", "--quality", "100", native])
        #expect(r.status == 0, "\(r.stderr)")
        let codestream = [UInt8](r.stdout)
        var fixture = RenderFixture(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8, syntax: "1.2.840.10008.1.2.4.50")
        fixture.encapsulated = [codestream]
        return (try s.file(fixture, "jpeg.dcm", sop: "2.25.31"), codestream, values)
    }

    @Test func mediaTypesParse() throws {
        #expect(try FrameTranscoder(mediaType: "image/png").kind == .rendered(.png))
        #expect(try FrameTranscoder(mediaType: "image/jpeg").kind == .rendered(.jpeg))
        #expect(try FrameTranscoder(mediaType: "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1").kind == .native)
        #expect(try FrameTranscoder(mediaType: "image/jp2").kind == .asStored(type: "image/jp2", transferSyntax: nil))
        #expect(throws: DwcError.self) { try FrameTranscoder(mediaType: "image/gif") }
        #expect(throws: DwcError.self) { try FrameTranscoder(mediaType: "application/octet-stream; transfer-syntax=1.2.840.10008.1.2") }
        let jpeg = try FrameTranscoder(mediaType: "image/jpeg")
        #expect(jpeg.passesThrough(transferSyntax: "1.2.840.10008.1.2.4.50"))
        #expect(!jpeg.passesThrough(transferSyntax: "1.2.840.10008.1.2.4.70"))
        #expect(try FrameTranscoder(mediaType: "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70").passesThrough(transferSyntax: "1.2.840.10008.1.2.4.70"))
        #expect(try FrameTranscoder(mediaType: "application/octet-stream").passesThrough(transferSyntax: "1.2.840.10008.1.2.2"))
    }

    @Test func jpegFramesDecodeToNativeAndRender() throws {
        let s = try RenderScratch()
        let (path, codestream, values) = try Self.jpegFile(in: s)
        let (file, frames) = try Self.frames(path)
        #expect(frames == [codestream + (codestream.count % 2 == 1 ? [0] : [])] || frames == [codestream])

        // image/jpeg: the baseline frame as stored.
        let asStored = try FrameTranscoder(mediaType: "image/jpeg").instance(for: file, name: path).transcode(frames[0], frame: 1)
        #expect(asStored.bytes == frames[0])
        #expect(asStored.contentType == "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50")

        // application/octet-stream: decoded samples, within the JPEG's loss of the original.
        let native = try FrameTranscoder(mediaType: "application/octet-stream").instance(for: file, name: path).transcode(frames[0], frame: 1)
        #expect(native.contentType == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1")
        #expect(native.bytes.count == 64)
        #expect(zip(native.bytes, values).allSatisfy { abs(Int($0) - $1) <= 3 })

        // image/png: rendered (8-bit gray, min-max of the decoded frame).
        let png = try FrameTranscoder(mediaType: "image/png").instance(for: file, name: path).transcode(frames[0], frame: 1)
        #expect(png.contentType == "image/png")
        #expect(png.fileExtension == "png")
        #expect(pngHeader(Data(png.bytes)).map { [$0.width, $0.height, $0.bitDepth] } == [8, 8, 8])

        // dwc render decodes the JPEG frame too.
        let rendered = try #require(try renderPNM(["--no-windowing", path]))
        #expect(zip(rendered.samples, values).allSatisfy { abs($0 - $1) <= 3 })
    }

    @Test func nativeFramesAndRefusals() throws {
        let s = try RenderScratch()
        let path = try s.file(RenderFixture(rows: 1, columns: 3, values: [0, 1000, 2000], extra: F.window("1000", "2001")))
        let (file, frames) = try Self.frames(path)
        // Native frames pass through as octet-stream.
        let raw = try FrameTranscoder(mediaType: "application/octet-stream").instance(for: file, name: path).transcode(frames[0], frame: 1)
        #expect(raw.bytes == [0, 0, 0xE8, 0x03, 0xD0, 0x07])
        // PNM rendered with the file's window.
        let pnm = try FrameTranscoder(mediaType: "image/x-portable-anymap").instance(for: file, name: path).transcode(frames[0], frame: 1)
        #expect(try PNMImage(Data(pnm.bytes)).samples == [0, 128, 255])
        #expect(pnm.fileExtension == "pgm")
        // No JPEG-LS encoder: native frames cannot become image/jls.
        #expect(throws: DwcError.self) { try FrameTranscoder(mediaType: "image/jls").instance(for: file, name: path) }
        // A corrupt codestream is exit 83.
        var corrupt = RenderFixture(rows: 8, columns: 8, bitsAllocated: 8, bitsStored: 8, syntax: "1.2.840.10008.1.2.4.50")
        corrupt.encapsulated = [[0xFF, 0xD8, 0xFF, 0xD9]]
        let bad = try s.file(corrupt, "bad.dcm")
        let (badFile, badFrames) = try Self.frames(bad)
        let instance = try FrameTranscoder(mediaType: "image/png").instance(for: badFile, name: bad)
        do {
            _ = try instance.transcode(badFrames[0], frame: 1)
            Issue.record("a corrupt frame was transcoded")
        } catch let error as DwcError {
            #expect(error.status == .decodeFailed)
        }
    }
}
