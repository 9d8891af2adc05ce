import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

@Suite struct BulkDataCLITests {
    typealias F = WADOFixtures

    static func uri(_ path: String, offset: Int, length: Int, inflated: Bool = false) -> String {
        "file://\(path)?offset=\(offset)&length=\(length)" + (inflated ? "&inflated=1" : "")
    }

    @Test func malformedURIsAreSyntaxErrorsAndNothingIsWritten() throws {
        let dir = try F.Directory()
        let path = dir.path + "/data.bin"
        try Data(F.pattern(100, seed: 1)).write(to: URL(fileURLWithPath: path))
        let good = Self.uri(path, offset: 0, length: 10)
        let bad = [
            path, "http://host\(path)?offset=0&length=1", "file://host\(path)?offset=0&length=1", "file://relative/x?offset=0&length=1",
            "file://\(path)", "file://\(path)?offset=0", "file://\(path)?length=1", "file://\(path)?offset=-1&length=1",
            "file://\(path)?offset=0x10&length=1", "file://\(path)?offset=1&length=1&offset=2", "file://\(path)?offset=0&length=1&frame=2",
            "file://\(path)?offset=0&length=1&inflated=2", "file://\(path)%zz?offset=0&length=1", "file://\(path)?offset=&length=1",
            "file://\(path)?offset=0&length=99999999999999999999",
        ]
        for uri in bad {
            let r = try DwcProcess.run(["retrieve-bulkdata", good, uri])
            #expect(r.status == 1, "\(uri): \(r.status)")
            #expect(r.stdout.isEmpty, "\(uri)")
            #expect(r.stderr.contains("not a dwc BulkDataURI"), "\(uri): \(r.stderr)")
        }
    }

    @Test func rangesAreCheckedAgainstTheFile() throws {
        let dir = try F.Directory()
        let path = dir.path + "/data.bin"
        let bytes = F.pattern(100, seed: 2)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let whole = try DwcProcess.run(["retrieve-bulkdata", Self.uri(path, offset: 0, length: 100)])
        #expect(whole.status == 0)
        #expect(whole.stdout == Data(bytes))
        let end = try DwcProcess.run(["retrieve-bulkdata", Self.uri(path, offset: 100, length: 0), "file://localhost\(path)?length=3&offset=97"])
        #expect(end.status == 0)
        #expect(end.stdout == Data(bytes[97...]))
        for (offset, length) in [(0, 101), (99, 2), (101, 0)] {
            let r = try DwcProcess.run(["retrieve-bulkdata", Self.uri(path, offset: 0, length: 1), Self.uri(path, offset: offset, length: length)])
            #expect(r.status == 22, "\(offset)+\(length)")
            #expect(r.stdout.isEmpty, "checked before anything is written")
        }
        #expect(try DwcProcess.run(["retrieve-bulkdata", Self.uri(dir.path + "/gone.bin", offset: 0, length: 1)]).status == 21)
        #expect(try DwcProcess.run(["retrieve-bulkdata", Self.uri(dir.path, offset: 0, length: 1)]).status == 20)
        #expect(try DwcProcess.run(["retrieve-bulkdata", Self.uri(path, offset: 0, length: 1, inflated: true)]).status == 22,
                "inflated=1 names a file that is not deflated")
        let spaced = dir.path + "/a b%.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: spaced))
        let encoded = "file://" + spaced.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: " ", with: "%20") + "?offset=5&length=5"
        let r = try DwcProcess.run(["retrieve-bulkdata", encoded])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == Data(bytes[5..<10]))
    }

    @Test func outputToAFileOrOneFilePerURI() throws {
        let dir = try F.Directory()
        let path = dir.path + "/data.bin"
        let bytes = F.pattern(300, seed: 3)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let uris = [Self.uri(path, offset: 10, length: 20), Self.uri(path, offset: 200, length: 100), Self.uri(path, offset: 0, length: 0)]
        let file = dir.path + "/out.bin"
        let r = try DwcProcess.run(["retrieve-bulkdata", "-o", file] + uris)
        #expect(r.status == 0)
        #expect(FileManager.default.contents(atPath: file) == Data(bytes[10..<30] + bytes[200..<300]))
        let out = dir.path + "/each"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let each = try DwcProcess.run(["retrieve-bulkdata", "-o", out] + uris)
        #expect(each.status == 0)
        #expect(RetrieveCLITests.tree(out) == ["1.bin", "2.bin", "3.bin"])
        #expect(FileManager.default.contents(atPath: out + "/2.bin") == Data(bytes[200..<300]))
        #expect(FileManager.default.contents(atPath: out + "/3.bin") == Data())
        // A bad URI leaves no output file behind.
        let failed = dir.path + "/failed.bin"
        #expect(try DwcProcess.run(["retrieve-bulkdata", "-o", failed, uris[0], Self.uri(path, offset: 0, length: 301)]).status == 22)
        #expect(!FileManager.default.fileExists(atPath: failed))
    }

    /// One value deep in a 4 GiB (sparse) file: read without reading the file.
    @Test func readsOnlyTheNamedBytesOfAHugeFile() throws {
        let dir = try F.Directory()
        let path = dir.path + "/huge.bin"
        let value = F.pattern(4096, seed: 4)
        let offset: UInt64 = 3 << 30
        try F.sparseFile(path, size: 4 << 30, writing: value, at: offset)
        let uri = Self.uri(path, offset: Int(offset), length: value.count)
        let r = try DwcProcess.run(["retrieve-bulkdata", uri])
        #expect(r.status == 0)
        #expect(r.stdout == Data(value))
        let memory = try F.peakMemory(["retrieve-bulkdata", uri])
        #expect(memory.status == 0)
        #expect(memory.kilobytes > 0 && memory.kilobytes < 64 * 1024, "\(memory.kilobytes) KiB")
    }
}
