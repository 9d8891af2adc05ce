import DicomCore
import DicomParser
import Foundation
import Testing
@testable import DicomRemote

typealias Tag = DicomCore.Tag

/// Ranged GETs against nginx (whose access log shows every request's Range and If-Match) and
/// against a Python stub for failures nginx cannot be told to produce.
@Suite struct RemoteClientHTTPTests {
    let blob = patternBytes(1 << 20)

    func servedBlob(locations: String = "") throws -> (TemporaryDirectory, NginxServer) {
        let root = try TemporaryDirectory()
        try root.write("blob.bin", blob)
        try root.write("norange/blob.bin", blob)
        try root.write("noetag/blob.bin", blob)
        return (root, try NginxServer(root: root.path, locations: locations))
    }

    func client(timeout: Double = 10, retries: Int = 2) -> RemoteClient {
        RemoteClient(options: RemoteOptions(timeout: timeout, retries: retries))
    }

    @Test func oneRangedGET() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("blob.bin"))
        let response = try client.get(RangeRequest(url: url, offset: 1000, length: 5000))
        #expect(response.bytes == Array(blob[1000..<6000]))
        #expect(response.totalSize == UInt64(blob.count))
        #expect(response.etag?.hasPrefix("\"") == true)
        #expect(response.lastModified != nil)
        #expect(nginx.requests(atLeast: 1) == [LoggedRequest(method: "GET", uri: "/blob.bin", range: "bytes=1000-5999", ifMatch: "", status: 206)])
        #expect(client.statistics.requests == 1)
        #expect(client.statistics.bytes == 5000)
    }

    @Test func connectionsStayOpenFromOneCallToTheNext() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("blob.bin"))
        for offset in [0, 1000, 2000] {
            _ = try client.get(RangeRequest(url: url, offset: UInt64(offset), length: 10))
        }
        _ = try client.get((0..<4).map { RangeRequest(url: url, offset: UInt64($0) * 100, length: 10) }, parallel: 4)
        let logged = nginx.requests(atLeast: 7)
        #expect(logged.count == 7)
        #expect(Set(logged.prefix(4).map(\.connection)).count == 1)
        // The parallel batch opens more connections, reusing the first.
        #expect(logged.suffix(4).contains { $0.connection == logged[0].connection })
    }

    @Test func rangesAtTheEndAreClipped() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("blob.bin"))
        let tail = try client.get(RangeRequest(url: url, offset: UInt64(blob.count - 10), length: 100))
        #expect(tail.bytes == Array(blob.suffix(10)))
        let past = try client.get(RangeRequest(url: url, offset: UInt64(blob.count), length: 100))
        #expect(past.bytes.isEmpty)
        #expect(past.totalSize == UInt64(blob.count))
    }

    @Test func parallelGETsComeBackInOrder() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("blob.bin"))
        let offsets = [900_000, 10, 500_000, 250_000, 70_000]
        let responses = try client.get(offsets.map { RangeRequest(url: url, offset: UInt64($0), length: 4096) }, parallel: 8)
        #expect(responses.map(\.bytes) == offsets.map { Array(blob[$0..<($0 + 4096)]) })
        let logged = nginx.requests(atLeast: 5)
        #expect(logged.count == 5)
        #expect(Set(logged.map(\.range)) == Set(offsets.map { "bytes=\($0)-\($0 + 4095)" }))
        #expect(logged.allSatisfy { $0.method == "GET" && $0.status == 206 })
    }

    @Test func gsObjectsThroughAnOverriddenEndpoint() throws {
        let root = try TemporaryDirectory()
        try root.write("my-bucket/dir/blob.bin", blob)
        let nginx = try NginxServer(root: root.path)
        let client = RemoteClient(options: RemoteOptions(gcsEndpoint: "http://127.0.0.1:\(nginx.port)"))
        let response = try client.get(RangeRequest(url: try RemoteURL("gs://my-bucket/dir/blob.bin"), offset: 7, length: 9))
        #expect(response.bytes == Array(blob[7..<16]))
        #expect(nginx.requests(atLeast: 1).map(\.uri) == ["/my-bucket/dir/blob.bin"])
    }

    @Test func unsignedRequestsFollowRedirects() throws {
        let (root, nginx) = try servedBlob(locations: "location = /moved { return 302 /blob.bin; }")
        defer { withExtendedLifetime(root) {} }
        let response = try client().get(RangeRequest(url: try RemoteURL(nginx.url("moved")), offset: 5, length: 5))
        #expect(response.bytes == Array(blob[5..<10]))
        #expect(nginx.requests(atLeast: 2).map(\.status) == [302, 206])
    }

    @Test func listingAnHTTPURLIsTheObjectItself() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let objects = try client().list(try RemoteURL(nginx.url("blob.bin")))
        #expect(objects.map(\.url.description) == [nginx.url("blob.bin")])
        #expect(objects.first?.size == UInt64(blob.count))
        #expect(objects.first?.etag != nil)
        #expect(nginx.requests(atLeast: 1).map(\.range) == ["bytes=0-0"])
    }

    @Test func notFoundNamesTheURL() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let text = nginx.url("missing.dcm")
        let error = #expect(throws: RemoteError.self) {
            try client().get(RangeRequest(url: try RemoteURL(text), offset: 0, length: 10))
        }
        #expect(error?.kind == .notFound)
        #expect(error?.status == 404)
        #expect(error?.description.hasPrefix(text + ": ") == true)
    }

    @Test func serverIgnoringRangeStillGivesTheSlice() throws {
        let (root, nginx) = try servedBlob(locations: "location /norange/ { max_ranges 0; }")
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("norange/blob.bin"))
        let response = try client.get(RangeRequest(url: url, offset: 3000, length: 2000))
        #expect(response.bytes == Array(blob[3000..<5000]))
        #expect(response.totalSize == UInt64(blob.count))
        let logged = nginx.requests(atLeast: 1)
        #expect(logged.count == 1)
        #expect(logged.first?.range == "bytes=3000-4999")
        #expect(logged.first?.status == 200)
        // A stream from an offset skips what the 200 answer sends before it.
        var streamed: [UInt8] = []
        try client.stream(url, from: 1_000_000) { chunk in streamed += chunk; return true }
        #expect(streamed == Array(blob[1_000_000...]))
        // Through a byte source too: the first read's size comes from Content-Length.
        let source = try RemoteByteSource(url: url, client: client)
        #expect(source.size == UInt64(blob.count))
        #expect(try source.read(offset: 800_000, length: 10) == Array(blob[800_000..<800_010]))
    }

    @Test func objectsWithoutETagStillGrowTheWindow() throws {
        let (root, nginx) = try servedBlob(locations: "location /noetag/ { etag off; }")
        defer { withExtendedLifetime(root) {} }
        let source = try RemoteByteSource(url: try RemoteURL(nginx.url("noetag/blob.bin")), client: client())
        #expect(source.etag == nil)
        #expect(try source.read(offset: 100_000, length: 10) == Array(blob[100_000..<100_010]))
        #expect(source.windowSize == 256 * 1024)
        #expect(nginx.requests(atLeast: 2).map(\.ifMatch) == ["", ""])
    }

    @Test func streamDeliversChunksAndStopsEarly() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let client = client()
        let url = try RemoteURL(nginx.url("blob.bin"))
        var all: [UInt8] = []
        try client.stream(url, from: 123) { chunk in all += chunk; return true }
        #expect(all == Array(blob[123...]))
        var first: [UInt8] = []
        var calls = 0
        try client.stream(url, from: 0) { chunk in first += chunk; calls += 1; return false }
        #expect(calls == 1)
        #expect(!first.isEmpty && first == Array(blob[0..<first.count]))
        let logged = nginx.requests(atLeast: 2)
        #expect(logged.map(\.range) == ["bytes=123-", ""])
    }

    @Test func largeHeaderIsReadWithTwoGETsAndNoHEAD() throws {
        let root = try TemporaryDirectory()
        let (file, pixelOffset) = largeHeaderDicom(headerBytes: 200 * 1024, rows: 1024, columns: 1024)
        try root.write("large-header.dcm", file)
        let nginx = try NginxServer(root: root.path)
        let client = client()
        let source = try RemoteByteSource(url: try RemoteURL(nginx.url("large-header.dcm")), client: client)
        let parsed = try DicomReader().read(from: source)
        #expect(parsed.dataSet.string(Tag(0x0010, 0x0010)) == "REMOTE^TEST")
        #expect(parsed.dataSet[Tag(0x0009, 0x1000)] != nil)
        #expect(try parsed.pixelDataLocation()?.valueOffset == UInt64(pixelOffset))
        let logged = nginx.requests(atLeast: 2)
        #expect(logged.map(\.method) == ["GET", "GET"])
        #expect(logged.map(\.range) == ["bytes=0-65535", "bytes=65536-262143"])
        // A frame beyond the window's reach: one ranged GET with If-Match on the first ETag.
        let etag = try #require(source.etag)
        let frameOffset = pixelOffset + 1_500_000
        let frame = try source.read(offset: UInt64(frameOffset), length: 1000)
        #expect(frame == Array(file[frameOffset..<(frameOffset + 1000)]))
        #expect(source.windowSize == 256 * 1024)
        let third = nginx.requests(atLeast: 3).last
        #expect(third?.range == "bytes=\(frameOffset)-\(frameOffset + 999)")
        #expect(third?.ifMatch == etag)
        #expect(client.statistics.requests == 3)
    }

    @Test func changedObjectFailsWith412() throws {
        let root = try TemporaryDirectory()
        try root.write("blob.bin", blob)
        let nginx = try NginxServer(root: root.path)
        let source = try RemoteByteSource(url: try RemoteURL(nginx.url("blob.bin")), client: client())
        #expect(try source.read(offset: 500_000, length: 10) == Array(blob[500_000..<500_010]))
        // nginx's ETag is mtime-size: a different size is a different ETag whatever the clock.
        try root.write("blob.bin", blob + [1, 2, 3])
        let error = #expect(throws: RemoteError.self) { try source.read(offset: 600_000, length: 10) }
        #expect(error?.kind == .changed)
        #expect(error?.status == 412)
        #expect(nginx.requests(atLeast: 3).last?.status == 412)
        // A stream with If-Match on the old ETag too.
        let streamed = #expect(throws: RemoteError.self) {
            try client().stream(try RemoteURL(nginx.url("blob.bin")), from: 0, ifMatch: source.etag) { _ in true }
        }
        #expect(streamed?.kind == .changed)
    }

    @Test func batchReadsFetchInParallelInOrder() throws {
        let (root, nginx) = try servedBlob()
        defer { withExtendedLifetime(root) {} }
        let source = try RemoteByteSource(url: try RemoteURL(nginx.url("blob.bin")), client: client(),
                                          knownSize: UInt64(blob.count), etag: nil)
        let ranges: [(offset: UInt64, length: Int)] = [(700_000, 100), (300_000, 50), (1_000_000, 100_000), (5, 0)]
        let results = try source.read(ranges: ranges)
        #expect(results[0] == Array(blob[700_000..<700_100]))
        #expect(results[1] == Array(blob[300_000..<300_050]))
        #expect(results[2] == Array(blob[1_000_000...]))
        #expect(results[3].isEmpty)
        #expect(nginx.requests(atLeast: 3).count == 3)
    }

    // MARK: - Failures from the stub server

    @Test func retriesServerErrorsThenSucceeds() throws {
        let stub = try PythonServer(script: stubServerScript)
        let client = client(retries: 3)
        let response = try client.get(RangeRequest(url: try RemoteURL(stub.base + "/flaky/2"), offset: 10, length: 20))
        #expect(response.bytes == stubBytes(10..<30))
        #expect(client.statistics.requests == 3)
        #expect(try String(decoding: client.get(RangeRequest(url: try RemoteURL(stub.base + "/count?path=/flaky/2"),
                                                               offset: 0, length: 10)).bytes, as: UTF8.self) == "3")
    }

    @Test func givesUpAfterTheRetries() throws {
        let stub = try PythonServer(script: stubServerScript)
        let client = client(retries: 1)
        let error = #expect(throws: RemoteError.self) {
            try client.get(RangeRequest(url: try RemoteURL(stub.base + "/flaky/5"), offset: 0, length: 20))
        }
        #expect(error?.kind == .server)
        #expect(error?.status == 503)
        #expect(error?.message.contains("SlowDown") == true)
        #expect(error?.message.hasSuffix("(after 2 attempts)") == true)
        #expect(client.statistics.requests == 2)
    }

    @Test func timesOut() throws {
        let stub = try PythonServer(script: stubServerScript)
        let client = client(timeout: 0.3, retries: 1)
        let error = #expect(throws: RemoteError.self) {
            try client.get(RangeRequest(url: try RemoteURL(stub.base + "/slow"), offset: 0, length: 20))
        }
        #expect(error?.kind == .timeout)
        #expect(client.statistics.requests == 2)
    }

    @Test func shortBodyIsAShortRead() throws {
        let stub = try PythonServer(script: stubServerScript)
        let error = #expect(throws: RemoteError.self) {
            try client(retries: 1).get(RangeRequest(url: try RemoteURL(stub.base + "/short"), offset: 0, length: 1000))
        }
        #expect(error?.kind == .shortRead)
    }

    @Test func moreThanAskedIsCutToTheRange() throws {
        let stub = try PythonServer(script: stubServerScript)
        let client = client()
        let response = try client.get(RangeRequest(url: try RemoteURL(stub.base + "/toolong"), offset: 0, length: 10))
        #expect(response.bytes == stubBytes(0..<10))
        #expect(response.totalSize == 100_000)
    }

    @Test func connectionRefusedIsANetworkError() throws {
        let port = freeLoopbackPort()
        let error = #expect(throws: RemoteError.self) {
            try client(retries: 1).get(RangeRequest(url: try RemoteURL("http://127.0.0.1:\(port)/x"), offset: 0, length: 1))
        }
        #expect(error?.kind == .network)
    }
}
