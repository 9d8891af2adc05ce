import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing

/// The commands on URLs, against nginx on a loopback port whose access log records every
/// request (method, Range, If-Match, status): request counts are asserted exactly.
@Suite(.serialized) struct RemoteCLITests {
    /// A JPEG-syntax multi-frame file: `frames` split into `fragmentsPerFrame` fragments each,
    /// with or without a Basic Offset Table, after a header grown by `headerPadding` bytes of
    /// private text elements (read element by element, never skipped).
    static func encapsulated(sop: String, frames: [[UInt8]], bot: Bool, fragmentsPerFrame: Int = 1, headerPadding: Int = 0) throws -> [UInt8] {
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(sop)))
        ds.set(DataElement(tag: .numberOfFrames, vr: .IS, bytes: DicomWriter.textBytes(String(frames.count))))
        ds.remove(.pixelData)
        if headerPadding > 0 {
            ds.set(DataElement(tag: Tag(0x0009, 0x0010), vr: .LO, bytes: DicomWriter.textBytes("DWC REMOTE TEST")))
            for i in 0..<(headerPadding + 9_999) / 10_000 {
                ds.set(DataElement(tag: Tag(0x0009, 0x1000 + UInt16(i)), vr: .LT, bytes: [UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: 10_000)))
            }
        }
        var bytes = try DicomWriter().part10(dataSet: ds, syntax: TransferSyntax(uid: "1.2.840.10008.1.2.4.50"))
        bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        var items: [UInt8] = [], offsets: [UInt32] = []
        for frame in frames {
            offsets.append(UInt32(items.count))
            let piece = (frame.count / fragmentsPerFrame + 1) & ~1
            var start = 0
            while start < frame.count {
                let fragment = Array(frame[start..<min(frame.count, start + piece)])
                items += [0xFE, 0xFF, 0x00, 0xE0] + le32(fragment.count) + fragment
                start += piece
            }
        }
        let table = bot ? offsets.flatMap { le32(Int($0)) } : []
        bytes += [0xFE, 0xFF, 0x00, 0xE0] + le32(table.count) + table + items
        bytes += [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        return bytes
    }

    /// A JPEG-like codestream of even length whose inner bytes never look like a start marker.
    static func codestream(_ seed: UInt64, length: Int) -> [UInt8] {
        var body = patternBytes(length - 4, seed: seed)
        for i in body.indices where body[i] == 0xFF { body[i] = 0x7F }
        return [0xFF, 0xD8] + body + [0xFF, 0xD9]
    }

    static func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }

    /// 40 frames of 30-50 KB: frames k and k+3 are more than 64 KiB apart.
    static let frames = (0..<40).map { codestream(UInt64($0 + 1), length: 30_000 + ($0 * 7919) % 20_000 & ~1) }

    struct Served {
        let root: TemporaryDirectory
        let archive: TemporaryDirectory
        let nginx: NginxServer
        init(files: [String: [UInt8]]) throws {
            root = try TemporaryDirectory()
            archive = try TemporaryDirectory()
            for (name, bytes) in files { try root.write(name, bytes) }
            nginx = try NginxServer(root: root.path)
        }
        func dwc(_ arguments: [String]) throws -> DwcProcess.Result {
            try DwcProcess.run([arguments[0], "-A", archive.path] + arguments.dropFirst())
        }
        func localFrames(_ name: String, _ selection: String) throws -> [Int: Data] {
            try RemoteCLITests.retrieved(self, [root.path + "/" + name, "--frames", selection], local: true)
        }
    }

    /// Runs retrieve-frames into a fresh directory; the frames by number.
    static func retrieved(_ served: Served, _ arguments: [String], local: Bool = false) throws -> [Int: Data] {
        let out = try TemporaryDirectory()
        // Local reads go without the archive's index, so they cannot take anything from it.
        let r = local ? try DwcProcess.run(["retrieve-frames", "--index", out.path + "/none.sqlite", "-o", out.path, "--name", "{frame}.{ext}"] + arguments)
            : try served.dwc(["retrieve-frames", "-o", out.path, "--name", "{frame}.{ext}"] + arguments)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        var result: [Int: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [] where name.hasSuffix(".jpg") {
            result[Int(name.dropLast(4))!] = FileManager.default.contents(atPath: out.path + "/" + name)
        }
        return result
    }

    @Test func indexingALargeHeaderCostsTwoGETsAndNoHEAD() throws {
        let file = try Self.encapsulated(sop: "2.25.8001", frames: Array(Self.frames.prefix(4)), bot: true, headerPadding: 200_000)
        let served = try Served(files: ["big.dcm": file])
        let url = served.nginx.url("big.dcm")
        let r = try served.dwc(["index", url])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 added"), "\(r.stderr)")
        let requests = served.nginx.requests(atLeast: 2)
        #expect(requests.count == 2, "\(requests)")
        #expect(requests.allSatisfy { $0.method == "GET" && !$0.range.isEmpty }, "\(requests)")
        // The row: the URL as path, inode 0, the object's size, ETag and Last-Modified.
        let stored = try #require(try ArchiveIndex(path: served.archive.path + "/.dwc/index.sqlite", create: false).instance(storedPath: url))
        #expect(stored.stamp.inode == 0 && stored.stamp.size == Int64(file.count))
        #expect(stored.stamp.etag?.hasPrefix("\"") == true, "\(stored.stamp)")
        let modified = try FileManager.default.attributesOfItem(atPath: served.root.path + "/big.dcm")[.modificationDate] as! Date
        #expect(abs(Double(stored.stamp.mtimeNanoseconds) / 1e9 - modified.timeIntervalSince1970) < 1.5, "\(stored.stamp)")
        #expect(stored.frameTable.map { FrameSpan.unpack($0).count } == 4)
        // The index knows the URL: search finds it, with the URL as its path.
        let paths = try served.dwc(["search", "instances", "--format", "paths"])
        #expect(paths.text.contains(url), "\(paths.text) \(paths.stderr)")
        // Its RetrieveURL is the URL itself, not a file:// URL made of it.
        let found = try served.dwc(["search", "instances", "--format", "ndjson"])
        #expect(found.text.contains("\"00081190\":{\"vr\":\"UR\",\"Value\":[\"\(url)\"]}"), "\(found.text)")
        // A second run asks the server once (the ETag is unchanged) and parses nothing.
        try served.nginx.clearLog()
        let again = try served.dwc(["index", url])
        #expect(again.stderr.contains("1 unchanged"), "\(again.stderr)")
        #expect(served.nginx.requests(atLeast: 1).count == 1)
    }

    @Test func anEmptyOffsetTableCostsOneStreamingGETAndFramesMatchLocalReads() throws {
        let file = try Self.encapsulated(sop: "2.25.8002", frames: Self.frames, bot: false, fragmentsPerFrame: 2)
        let served = try Served(files: ["nobot.dcm": file])
        let url = served.nginx.url("nobot.dcm")
        let r = try served.dwc(["index", url])
        #expect(r.status == 0, "\(r.stderr)")
        let requests = served.nginx.requests(atLeast: 2)
        #expect(requests.count == 2, "header GET + one streaming GET over the items: \(requests)")
        #expect(requests.allSatisfy { $0.method == "GET" })

        try served.nginx.clearLog()
        let remote = try Self.retrieved(served, [url])
        let local = try served.localFrames("nobot.dcm", "1-40")
        #expect(remote.count == 40)
        #expect(remote == local)
        #expect(remote[7] == Data(Self.frames[6]))
        // All 40 frames lie together: merged into requests of up to 16 MiB, here one.
        #expect(served.nginx.requests(atLeast: 1).count == 1)
    }

    @Test func adjacentFramesShareOneGETAndScatteredFramesTakeOneEach() throws {
        let file = try Self.encapsulated(sop: "2.25.8003", frames: Self.frames, bot: true)
        let served = try Served(files: ["bot.dcm": file])
        let url = served.nginx.url("bot.dcm")
        #expect(try served.dwc(["index", url]).status == 0)

        try served.nginx.clearLog()
        let adjacent = try Self.retrieved(served, [url, "--frames", "11-20"])
        let one = served.nginx.requests(atLeast: 1)
        #expect(one.count == 1, "\(one)")
        #expect(one.first?.ifMatch.isEmpty == false, "frames are read with If-Match on the indexed ETag")
        #expect(adjacent == (try served.localFrames("bot.dcm", "11-20")))

        try served.nginx.clearLog()
        let selection = "1,4,7,10,13,16,19,22,25,28"
        let scattered = try Self.retrieved(served, [url, "--frames", selection])
        let ten = served.nginx.requests(atLeast: 10)
        #expect(ten.count == 10, "\(ten)")
        #expect(ten.allSatisfy { $0.status == 206 })
        #expect(scattered == (try served.localFrames("bot.dcm", selection)))

        // The SOP Instance UID finds the URL through the index, at the same cost.
        try served.nginx.clearLog()
        let byUID = try Self.retrieved(served, ["2.25.8003", "--frames", "5"])
        #expect(byUID[5] == Data(Self.frames[4]))
        #expect(served.nginx.requests(atLeast: 1).count == 1)
    }

    @Test func aChangedObjectIsIndexedAgainAndReadCorrectly() throws {
        let served = try Served(files: ["change.dcm": try Self.encapsulated(sop: "2.25.8004", frames: Array(Self.frames.prefix(10)), bot: true)])
        let url = served.nginx.url("change.dcm")
        #expect(try served.dwc(["index", url]).status == 0)
        // New content of another size (nginx's ETag is mtime and size): frames in another order.
        let reordered = Array(Self.frames.prefix(12).reversed())
        try served.root.write("change.dcm", try Self.encapsulated(sop: "2.25.8004", frames: reordered, bot: false))
        try served.nginx.clearLog()
        let got = try Self.retrieved(served, [url, "--frames", "1-3"])
        #expect(got == [1: Data(reordered[0]), 2: Data(reordered[1]), 3: Data(reordered[2])])
        let requests = served.nginx.requests(atLeast: 3)
        #expect(requests.first?.status == 412, "\(requests)")
        #expect(requests.filter { $0.status == 412 }.count == 1, "\(requests)")
        // The index now has the new table: the next read is one GET.
        try served.nginx.clearLog()
        _ = try Self.retrieved(served, [url, "--frames", "12"])
        #expect(served.nginx.requests(atLeast: 1).map(\.status) == [206])
    }

    @Test func dumpMetadataAndErrorsOnURLs() throws {
        let file = try Self.encapsulated(sop: "2.25.8005", frames: Array(Self.frames.prefix(6)), bot: false)
        let served = try Served(files: ["d.dcm": file, "notdicom.txt": Array("hello".utf8)])
        let url = served.nginx.url("d.dcm")
        let dump = try served.dwc(["dump", url])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.text.contains("2.25.8005"))
        // The header only: no request walks the pixel data items.
        #expect(served.nginx.requests(atLeast: 1).count == 1)

        try served.nginx.clearLog()
        let metadata = try served.dwc(["metadata", url])
        #expect(metadata.status == 0, "\(metadata.stderr)")
        #expect(metadata.text.contains("\"BulkDataURI\": \"\(url)?offset="), "\(metadata.text.suffix(400))")
        #expect(served.nginx.requests(atLeast: 1).count == 1)

        let missing = try served.dwc(["dump", served.nginx.url("nope.dcm")])
        #expect(missing.status == 21)
        #expect(missing.stderr.contains(served.nginx.url("nope.dcm")))
        let notDicom = try served.dwc(["dump", served.nginx.url("notdicom.txt")])
        #expect(notDicom.status == 22, "\(notDicom.stderr)")
        let refused = try served.dwc(["dump", "--timeout", "2", "http://127.0.0.1:\(freeLoopbackPort())/x.dcm"])
        #expect(refused.status == 20, "\(refused.stderr)")
        #expect(try served.dwc(["dump", "ftp://example.com/x.dcm"]).status == 21)

        let index = try served.dwc(["index", url, served.nginx.url("notdicom.txt")])
        #expect(index.status == 0, "\(index.stderr)")
        #expect(index.stderr.contains("1 added") && index.stderr.contains("1 skipped-not-DICOM"), "\(index.stderr)")
    }

    /// Rendering a URL gives the image rendering the file gives, from the header and the one
    /// frame used (real JPEG and JPEG 2000 files of pydicom's test set).
    @Test func rendersURLsLikeFiles() throws {
        let directory = try runPython("import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var files: [String: [UInt8]] = [:]
        for name in ["SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm"] {
            files[name] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
        }
        let served = try Served(files: files)
        for name in files.keys.sorted() {
            let out = try TemporaryDirectory()
            let remote = try served.dwc(["render", served.nginx.url(name), out.path + "/remote.png"])
            #expect(remote.status == 0, "\(name): \(remote.stderr)")
            let local = try served.dwc(["render", served.root.path + "/" + name, out.path + "/local.png"])
            #expect(local.status == 0, "\(name): \(local.stderr)")
            let a = FileManager.default.contents(atPath: out.path + "/remote.png"), b = FileManager.default.contents(atPath: out.path + "/local.png")
            #expect(a != nil && a == b, "\(name)")
        }
        // Small objects: the first 64 KiB GET holds everything, frame included.
        #expect(served.nginx.requests(atLeast: 2).count <= 4, "\(served.nginx.requests())")
    }

    /// An indexed URL renders from its header GET and the frame's GET: the index's frame table
    /// serves while the object keeps its ETag (no streaming scan of the empty offset table).
    @Test func rendersAnIndexedURLWithTheIndexsFrameTable() throws {
        let out = try TemporaryDirectory()
        try runPython("""
        import os, sys, pydicom
        from pydicom.encaps import encapsulate, generate_frames
        d = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
        ds = pydicom.dcmread(os.path.join(d, "SC_rgb_jpeg_dcmtk.dcm"))
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        ds.PixelData = encapsulate([frame] * 200, has_bot=False)
        ds.NumberOfFrames = 200
        ds.save_as(sys.argv[1])
        """, [out.path + "/many.dcm"])
        let served = try Served(files: ["many.dcm": [UInt8](try Data(contentsOf: URL(fileURLWithPath: out.path + "/many.dcm")))])
        let url = served.nginx.url("many.dcm")
        #expect(try served.dwc(["index", url]).status == 0)
        try served.nginx.clearLog()
        let remote = try served.dwc(["render", url, "--frames", "200", "-o", out.path + "/remote.png"])
        #expect(remote.status == 0, "\(remote.stderr)")
        let requests = served.nginx.requests(atLeast: 2)
        #expect(requests.count == 2, "header + frame 200: \(requests)")
        let local = try served.dwc(["render", served.root.path + "/many.dcm", "--frames", "200", "-o", out.path + "/local.png"])
        #expect(local.status == 0, "\(local.stderr)")
        let a = FileManager.default.contents(atPath: out.path + "/remote.png")
        #expect(a != nil && a == FileManager.default.contents(atPath: out.path + "/local.png"))
    }

    /// moto's S3 server on a loopback port (printed as `PORT n`), ended when stdin closes.
    static let motoScript = """
    import socket, sys
    from moto.server import ThreadedMotoServer
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.stop()
    """

    /// Puts objects into a bucket with boto3 (argv: endpoint, bucket, then name=path pairs).
    static let putScript = """
    import sys, boto3
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    try:
        s3.create_bucket(Bucket=sys.argv[2])
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for pair in sys.argv[3:]:
        name, _, path = pair.partition("=")
        if path.startswith("text:"):
            s3.put_object(Bucket=sys.argv[2], Key=name, Body=path[5:].encode())
        else:
            s3.upload_file(path, sys.argv[2], name)
    """

    static let deleteScript = """
    import sys, boto3
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.delete_object(Bucket=sys.argv[2], Key=sys.argv[3])
    """

    /// An s3:// prefix of 1,003 objects (more than one ListObjectsV2 page of 1,000): 3 DICOM
    /// files and 1,000 small text files. The second run costs the listing only.
    @Test func indexesAnS3PrefixThroughMotoAcrossListingPages() throws {
        let moto = try PythonServer(script: Self.motoScript)
        let files = try TemporaryDirectory()
        var pairs: [String] = []
        for k in 0..<3 {
            let name = "slide\(k).dcm"
            try files.write(name, try Self.encapsulated(sop: "2.25.810\(k)", frames: Array(Self.frames[(k * 5)..<(k * 5 + 5)]), bot: k != 1))
            pairs.append("slides/\(name)=\(files.path)/\(name)")
        }
        pairs += (0..<1000).map { "slides/notes/\($0).txt=text:note \($0)" }
        pairs.append("other/outside.dcm=\(files.path)/slide0.dcm")
        pairs.append("slides-extra/e.txt=text:beside the prefix")
        try runPython(Self.putScript, [moto.base, "bucket"] + pairs)
        let archive = try TemporaryDirectory()
        // moto keeps objects private: requests are signed (any key works there).
        let env = ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": ""]
        func dwc(_ arguments: [String]) throws -> DwcProcess.Result {
            try DwcProcess.run([arguments[0], "-A", archive.path, "--s3-endpoint", moto.base] + arguments.dropFirst(), environment: env)
        }
        let first = try dwc(["index", "-d", "s3://bucket/slides/"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("3 added") && first.stderr.contains("1000 skipped-not-DICOM"), "\(first.stderr)")
        let second = try dwc(["index", "-d", "s3://bucket/slides/"])
        #expect(second.stderr.contains("1003 unchanged"), "\(second.stderr)")
        // Two listing pages, no object read.
        #expect(second.stderr.contains("remote: 2 requests"), "\(second.stderr)")
        let paths = try dwc(["search", "instances", "--format", "paths"])
        #expect(paths.text.split(separator: "\n").sorted() == ["s3://bucket/slides/slide0.dcm", "s3://bucket/slides/slide1.dcm", "s3://bucket/slides/slide2.dcm"])
        // Frames of the slide without an offset table, through its SOP Instance UID.
        let out = try TemporaryDirectory()
        let r = try dwc(["retrieve-frames", "2.25.8101", "--frames", "2-3", "-o", out.path, "--name", "{frame}.{ext}"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: out.path + "/2.jpg") == Data(Self.frames[6]))
        #expect(FileManager.default.contents(atPath: out.path + "/3.jpg") == Data(Self.frames[7]))
        // An object deleted from the prefix is forgotten by the next run (the prefix given
        // without its slash is still a folder: nothing outside slides/ is touched).
        #expect(try dwc(["index", "s3://bucket/slides-extra/"]).stderr.contains("1 skipped-not-DICOM"))
        try runPython(Self.deleteScript, [moto.base, "bucket", "slides/slide2.dcm"])
        let third = try dwc(["index", "s3://bucket/slides"])
        #expect(third.stderr.contains("1 removed"), "\(third.stderr)")
        let left = try dwc(["search", "instances", "--format", "paths"])
        #expect(left.text.split(separator: "\n").sorted() == ["s3://bucket/slides/slide0.dcm", "s3://bucket/slides/slide1.dcm"])
        let beside = try dwc(["index", "-d", "s3://bucket/slides-extra/"])
        #expect(beside.stderr.contains("1 unchanged") && beside.stderr.contains("remote: 1 requests"), "\(beside.stderr)")
        // A missing key is exit 21, naming the URL.
        let missing = try dwc(["retrieve-frames", "s3://bucket/slides/nope.dcm", "-o", out.path])
        #expect(missing.status == 21, "\(missing.stderr)")
        #expect(missing.stderr.contains("s3://bucket/slides/nope.dcm"))
        // Without credentials the private object is refused: exit 20, naming the URL and the status.
        let anonymous = try DwcProcess.run(["dump", "--s3-endpoint", moto.base, "s3://bucket/slides/slide0.dcm"],
                                           environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(anonymous.status == 20, "\(anonymous.stderr)")
        #expect(anonymous.stderr.contains("s3://bucket/slides/slide0.dcm") && anonymous.stderr.contains("403"), "\(anonymous.stderr)")
    }
}
