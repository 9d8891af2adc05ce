import Testing
@testable import DicomRemote

@Suite struct SigV4Tests {
    /// AWS's worked example "GET Object" of Signature V4 for S3 (header-based authentication):
    /// examplebucket/test.txt, Range bytes=0-9, 2013-05-24T00:00:00Z, us-east-1, the example keys.
    @Test func matchesAWSPublishedExample() {
        let signer = SigV4(credentials: S3Credentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE",
                                                      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                           region: "us-east-1")
        let headers = signer.headers(host: "examplebucket.s3.amazonaws.com", canonicalURI: "/test.txt", query: [],
                                     date: 1_369_353_600, extraSigned: [("Range", "bytes=0-9")])
        let authorization = headers.first { $0.0 == "authorization" }?.1
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
    }

    /// The same request signed by botocore (the AWS SDK for Python) at a fixed time: keys with
    /// spaces, "+", non-ASCII, a ListObjectsV2 query with characters that need encoding, and a
    /// session token.
    @Test func matchesBotocore() throws {
        let credentials = S3Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret/with+chars=",
                                        sessionToken: "token/with+=chars")
        let signer = SigV4(credentials: credentials, region: "eu-west-1")
        let cases: [(path: String, query: [(String, String)])] = [
            ("/bucket/dir/" + percentEncode("a b+c é~.dcm", keepSlash: true), []),
            ("/bucket/", [("list-type", "2"), ("prefix", "dir/a b+é"), ("continuation-token", "1/2+3=="),
                          ("encoding-type", "url")]),
        ]
        let date: Int64 = 1_700_000_000
        for (path, query) in cases {
            let ours = signer.headers(host: "127.0.0.1:9000", canonicalURI: path, query: query, date: date)
                .first { $0.0 == "authorization" }?.1
            let queryString = SigV4.canonicalQuery(query)
            let theirs = try runPython(botocoreSigner, ["http://127.0.0.1:9000" + path + (queryString.isEmpty ? "" : "?" + queryString),
                                                        credentials.accessKeyId, credentials.secretAccessKey,
                                                        credentials.sessionToken!, "eu-west-1", String(date)])
            #expect(ours == theirs.trimmingCharacters(in: .whitespacesAndNewlines), "\(path)")
        }
    }

    @Test func timestampsAndCalendar() {
        #expect(SigV4.timestamps(0) == ("19700101T000000Z", "19700101"))
        #expect(SigV4.timestamps(951_782_400) == ("20000229T000000Z", "20000229"))
        #expect(SigV4.timestamps(4_107_542_399) == ("21000228T235959Z", "21000228"))
        for days: Int64 in [-1, 0, 59, 11_016, 47_541, 100_000] {
            let (y, m, d) = civilDate(daysSinceEpoch: days)
            #expect(daysSinceEpoch(year: y, month: m, day: d) == days)
        }
    }
}

/// botocore's S3SigV4Auth at a fixed time; prints the Authorization header.
private let botocoreSigner = #"""
import sys, datetime
from unittest import mock
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, key, secret, token, region, when = sys.argv[1:7]
fixed = datetime.datetime.fromtimestamp(int(when), datetime.timezone.utc).replace(tzinfo=None)
request = AWSRequest(method="GET", url=url, data=b"")
with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
    S3SigV4Auth(Credentials(key, secret, token), "s3", region).add_auth(request)
print(request.headers["Authorization"])
"""#
