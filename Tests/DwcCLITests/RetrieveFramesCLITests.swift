import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing

@Suite struct RetrieveFramesCLITests {
    /// A JPEG-syntax file whose frames are the given codestreams, with an empty offset table, so
    /// frames must be found by scanning (and the table is then kept in the index).
    static func multiframe(sop: String, frames: [[UInt8]]) throws -> Data {
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(sop)))
        ds.set(DataElement(tag: .numberOfFrames, vr: .IS, bytes: DicomWriter.textBytes(String(frames.count))))
        ds.remove(.pixelData)
        var bytes = try DicomWriter().part10(dataSet: ds, syntax: TransferSyntax(uid: "1.2.840.10008.1.2.4.50"))
        bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        bytes += [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]
        for frame in frames {
            bytes += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(frame.count).littleEndian, Array.init) + frame
        }
        bytes += [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        return Data(bytes)
    }

    static func jpegLike(_ id: UInt8, _ length: Int) -> [UInt8] { [0xFF, 0xD8] + [UInt8](repeating: id, count: length - 4) + [0xFF, 0xD9] }

    @Test func writesSelectedFramesAndAManifest() throws {
        let files = try SampleFiles()
        let frames = (1...5).map { Self.jpegLike(UInt8($0), 10 + 2 * $0) }
        let path = files.directory + "/mf.dcm"
        try Self.multiframe(sop: "2.25.77", frames: frames).write(to: URL(fileURLWithPath: path))
        let out = files.directory + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = try DwcProcess.run(["retrieve-frames", path, "--frames", "2,4-5", "-o", out, "--manifest"])
        #expect(r.status == 0, "\(r.stderr)")
        for k in [2, 4, 5] {
            #expect(FileManager.default.contents(atPath: "\(out)/2.25.77_\(k).jpg") == Data(frames[k - 1]))
        }
        #expect(!FileManager.default.fileExists(atPath: "\(out)/2.25.77_1.jpg"))
        let lines = r.text.split(separator: "\n")
        #expect(lines.count == 3)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["frame"] as? Int == 2)
        #expect(first["SOPInstanceUID"] as? String == "2.25.77")
        #expect(first["transferSyntaxUID"] as? String == "1.2.840.10008.1.2.4.50")
        #expect(first["length"] as? Int == frames[1].count)
    }

    @Test func fillsTheNameTemplateInOnePass() {
        let name = RetrieveFramesOperation.fileName("{study}/{series}/{sop}_{frame}{x}{.{ext}{", sop: "1.2", frame: 17,
                                                    series: "3.4", study: "5.6", ext: "jpg")
        #expect(name == "5.6/3.4/1.2_17{x}{.jpg{")
        #expect(RetrieveFramesOperation.fileName("plain", sop: "1", frame: 1, series: "2", study: "3", ext: "raw") == "plain")
        #expect(RetrieveFramesOperation.fileName("{frame}{frame}.{ext}", sop: "1", frame: 9, series: "2", study: "3", ext: "j2k") == "99.j2k")
    }

    @Test func refusesFramesOutOfRangeNamingTheRange() throws {
        let files = try SampleFiles()
        let path = files.directory + "/mf.dcm"
        try Self.multiframe(sop: "2.25.78", frames: [Self.jpegLike(1, 8), Self.jpegLike(2, 8)]).write(to: URL(fileURLWithPath: path))
        for selection in ["3", "0", "1-7"] {
            let r = try DwcProcess.run(["retrieve-frames", path, "--frames", selection, "-o", files.directory])
            #expect(r.status == 84, "\(selection)")
            #expect(r.stderr.contains("valid frames are 1-2"))
        }
        #expect(try DwcProcess.run(["retrieve-frames", path, "--frames", "x", "-o", files.directory]).status == 1)
        let noPixels = try DwcProcess.run(["retrieve-frames", files.directory + "/nothing.dcm"])
        #expect(noPixels.status == 21)
    }

    @Test func writesOneFrameToStdoutAndMultipart() throws {
        let files = try SampleFiles()
        let frames = [Self.jpegLike(1, 8), Self.jpegLike(2, 12)]
        let path = files.directory + "/mf.dcm"
        try Self.multiframe(sop: "2.25.79", frames: frames).write(to: URL(fileURLWithPath: path))
        let one = try DwcProcess.run(["retrieve-frames", path, "--frames", "2", "-o", "-"])
        #expect(one.status == 0)
        #expect(one.stdout == Data(frames[1]))
        #expect(try DwcProcess.run(["retrieve-frames", path, "-o", "-"]).status == 1, "two frames do not fit on stdout")
        let multipart = try DwcProcess.run(["retrieve-frames", path, "--multipart"])
        #expect(multipart.status == 0)
        let text = String(decoding: multipart.stdout, as: UTF8.self)
        let afterBoundary = try #require(text.range(of: "boundary="))
        let boundary = text[afterBoundary.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
        #expect(text.components(separatedBy: "--\(boundary)\r\n").count == 3)
        #expect(text.hasSuffix("--\(boundary)--\r\n"))
        #expect(text.contains("Content-Type: image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"))
        #expect(multipart.stdout.range(of: Data(frames[1])) != nil)
    }

    @Test func deliversNativeFramesLittleEndianFromAnyNativeSyntax() throws {
        let files = try SampleFiles()
        let instances = SampleArchive().instances()
        for (i, path) in files.paths.prefix(4).enumerated() {
            let r = try DwcProcess.run(["retrieve-frames", path, "-o", "-"])
            #expect(r.status == 0, "\(r.stderr)")
            let original = instances.first { files.paths[i].hasSuffix($0.path) }!.dataSet[.pixelData]!.bytes!
            #expect(r.stdout == Data(original), "\(path)")
        }
    }

    @Test func findsInstancesByUIDAndKeepsTheFrameTableUntilTheFileChanges() throws {
        let files = try SampleFiles()
        let path = files.directory + "/mf.dcm"
        let first = [Self.jpegLike(1, 8), Self.jpegLike(2, 10), Self.jpegLike(3, 12)]
        try Self.multiframe(sop: "2.25.80", frames: first).write(to: URL(fileURLWithPath: path))
        #expect(try DwcProcess.run(["index", "-q", "-A", files.directory]).status == 0)
        let index = files.directory + "/.dwc/index.sqlite"
        func table() throws -> [UInt8]? {
            let st = try SQLiteDatabase(path: index).prepare("SELECT frame_table FROM instances WHERE sop_uid = '2.25.80'")
            return try st.step() ? st.blob(0) : nil
        }
        #expect(try table() == nil, "no offset table in the file: nothing to keep yet")
        let r = try DwcProcess.run(["retrieve-frames", "-A", files.directory, "2.25.80", "--frames", "3", "-o", "-"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == Data(first[2]))
        let kept = try #require(try table())
        #expect(FrameSpan.unpack(kept).count == 3)
        // The file changes (same UID, other frames): the kept table must not be used.
        let second = [Self.jpegLike(4, 20), Self.jpegLike(5, 6), Self.jpegLike(6, 14)]
        try Self.multiframe(sop: "2.25.80", frames: second).write(to: URL(fileURLWithPath: path))
        let again = try DwcProcess.run(["retrieve-frames", "-A", files.directory, "2.25.80", "--frames", "3", "-o", "-"])
        #expect(again.stdout == Data(second[2]))
        // Whole series through the index.
        let out = files.directory + "/series"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let series = try DwcProcess.run(["retrieve-frames", "-A", files.directory, "--series", "2.25.100000.1", "-o", out])
        #expect(series.status == 0, "\(series.stderr)")
        // The sample series' three single-frame instances and the three frames of mf.dcm.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).count == 6)
        #expect(try DwcProcess.run(["retrieve-frames", "-A", files.directory, "9.9.9"]).status == 21)
    }
}
