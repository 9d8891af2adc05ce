import Testing
@testable import DicomRemote

@Suite struct RemoteURLTests {
    @Test func recognisesRemoteSchemes() {
        #expect(RemoteURL.isRemote("s3://bucket/key"))
        #expect(RemoteURL.isRemote("HTTPS://example.org/a.dcm"))
        #expect(RemoteURL.isRemote("gs://b-1/x"))
        #expect(!RemoteURL.isRemote("/data/a.dcm"))
        #expect(!RemoteURL.isRemote("ftp://host/a"))
        #expect(!RemoteURL.isRemote("s3:/bucket"))
        #expect(!RemoteURL.isRemote("s\u{13}://b") && !RemoteURL.isRemote("http:/") && !RemoteURL.isRemote("dir/http://x"))
        #expect(RemoteURL.isRemote("Gs://b/k") && RemoteURL.isRemote("hTTp://h/"))
    }

    @Test func parsesS3AndKeepsKeysLiteral() throws {
        let url = try RemoteURL("s3://my-bucket/dir/a%20b c.dcm".replacingOccurrences(of: " ", with: "+"))
        #expect(url.scheme == .s3)
        #expect(url.bucket == "my-bucket")
        #expect(url.key == "dir/a%20b+c.dcm")
        #expect(try RemoteURL("s3://my-bucket").key == "")
        #expect(try RemoteURL("s3://my-bucket/").key == "")
        #expect(try RemoteURL("gs://under_score.bucket/p/").key == "p/")
        #expect(try RemoteURL("s3://b-1/my file.dcm").key == "my file.dcm")
        #expect(throws: RemoteError.self) { try RemoteURL("https://host/my file.dcm") }
        #expect(throws: RemoteError.self) { try RemoteURL("s3://b-1/a.dcm\n") }
    }

    @Test func rejectsBadBuckets() {
        for bad in ["s3://ab/k", "s3://Upper/k", "s3://-dash/k", "s3://a..b/k", "s3://under_score/k", "s3:///k", "s3://b\nx/k"] {
            #expect(throws: RemoteError.self, "\(bad)") { try RemoteURL(bad) }
        }
        do {
            _ = try RemoteURL("s3://Bad/k")
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .invalidURL)
            #expect(error.description.hasPrefix("s3://Bad/k: "))
        }
    }

    @Test func keepsPresignedQueriesVerbatim() throws {
        let text = "https://b.s3.amazonaws.com/k%2Fx?X-Amz-Signature=ab%2Bcd&X-Amz-Date=20240101T000000Z#frag"
        let url = try RemoteURL(text)
        #expect(url.scheme == .https)
        #expect(url.authority == "b.s3.amazonaws.com")
        #expect(url.path == "/k%2Fx")
        #expect(url.query == "X-Amz-Signature=ab%2Bcd&X-Amz-Date=20240101T000000Z")
        #expect(url.description == text)
        let bare = try RemoteURL("http://127.0.0.1:8080")
        #expect(bare.path == "/")
        #expect(bare.authority == "127.0.0.1:8080")
        #expect(throws: RemoteError.self) { try RemoteURL("http://127.0.0.1:99999/a") }
        #expect(throws: RemoteError.self) { try RemoteURL("https:///a") }
    }

    @Test func percentEncodesLikeS3() {
        #expect(percentEncode("a b/c+d~e_f.g-h", keepSlash: true) == "a%20b/c%2Bd~e_f.g-h")
        #expect(percentEncode("a/b", keepSlash: false) == "a%2Fb")
        #expect(percentEncode("é", keepSlash: true) == "%C3%A9")
    }
}
