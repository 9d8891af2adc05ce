import Glibc
import Testing
@testable import DicomRemote

/// How s3:// and gs:// URLs become HTTP requests (no server needed: the request is inspected).
@Suite struct AddressingTests {
    func transfer(_ url: String, _ options: RemoteOptions) throws -> Transfer {
        try RemoteClient(options: options).makeTransfer(try RemoteURL(url), headers: [], mode: .whole(limit: 1))
    }

    @Test func awsIsVirtualHostedExceptForDottedBuckets() throws {
        let options = RemoteOptions(region: "eu-central-1")
        #expect(try transfer("s3://idc-open-data/a b/c+d.dcm", options).httpURL
            == "https://idc-open-data.s3.eu-central-1.amazonaws.com/a%20b/c%2Bd.dcm")
        #expect(try transfer("s3://my.dotted.bucket/k", options).httpURL
            == "https://s3.eu-central-1.amazonaws.com/my.dotted.bucket/k")
    }

    @Test func endpointsArePathStyle() throws {
        let options = RemoteOptions(s3Endpoint: "http://127.0.0.1:9000/", gcsEndpoint: "http://127.0.0.1:9001/storage")
        #expect(try transfer("s3://bucket/dir/x.dcm", options).httpURL == "http://127.0.0.1:9000/bucket/dir/x.dcm")
        #expect(try transfer("gs://bucket/dir/x.dcm", options).httpURL == "http://127.0.0.1:9001/storage/bucket/dir/x.dcm")
        #expect(try transfer("gs://bucket/x", RemoteOptions()).httpURL == "https://storage.googleapis.com/bucket/x")
        #expect(throws: RemoteError.self) { try transfer("s3://bucket/x", RemoteOptions(s3Endpoint: "ftp://x")) }
        #expect(throws: RemoteError.self) { try transfer("s3://bucket/", RemoteOptions()) }
    }

    @Test func signsS3OnlyAndKeepsPresignedQueries() throws {
        let credentials = S3Credentials(accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "tok")
        let options = RemoteOptions(s3Endpoint: "http://127.0.0.1:9000", credentials: credentials)
        let s3 = try transfer("s3://bucket/x", options)
        #expect(s3.headers.contains { $0.hasPrefix("authorization: AWS4-HMAC-SHA256 Credential=AKID/") })
        #expect(s3.headers.contains("x-amz-security-token: tok"))
        #expect(!s3.followRedirects)
        let gs = try transfer("gs://bucket/x", options)
        #expect(!gs.headers.contains { $0.hasPrefix("authorization") })
        let presigned = "https://b.s3.amazonaws.com/k?X-Amz-Signature=ab%2Bcd&X-Amz-Date=20240101T000000Z"
        let https = try transfer(presigned, options)
        #expect(https.httpURL == presigned)
        #expect(https.headers.isEmpty)
        #expect(https.followRedirects)
    }

    @Test func environmentGivesCredentialsRegionAndEndpoint() {
        let options = RemoteOptions.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
                                                     "AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL": "http://x:1"])
        #expect(options.credentials == S3Credentials(accessKeyId: "AKID", secretAccessKey: "secret"))
        #expect(options.region == "us-west-2")
        #expect(options.s3Endpoint == "http://x:1")
        let anonymous = RemoteOptions.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(anonymous.credentials == nil)
        #expect(anonymous.region == "us-east-1")
        #expect(RemoteOptions.fromEnvironment(["AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "x"]).region == "ap-south-1")
    }

    /// The process's own environment, read without Foundation: names end at the first `=`.
    @Test func processEnvironmentReadsTheRealOne() {
        setenv("DWC_TEST_ENDPOINT", "http://h:9/?a=b", 1)
        defer { unsetenv("DWC_TEST_ENDPOINT") }
        let environment = processEnvironment()
        #expect(environment["DWC_TEST_ENDPOINT"] == "http://h:9/?a=b")
        #expect(environment["PATH"] == String(cString: getenv("PATH")))
    }
}

@Suite struct RangeValidationTests {
    @Test func emptyOrOverflowingRangesAreRejectedBeforeAnyRequest() throws {
        let client = RemoteClient(options: RemoteOptions(retries: 0))
        let url = try RemoteURL("http://127.0.0.1:9/x")
        for (offset, length) in [(UInt64(0), 0), (UInt64.max, 2), (UInt64(5), -1)] {
            let error = #expect(throws: RemoteError.self) { try client.get(RangeRequest(url: url, offset: offset, length: length)) }
            #expect(error?.kind == .invalidURL)
        }
        #expect(client.statistics.requests == 0)
    }
}
