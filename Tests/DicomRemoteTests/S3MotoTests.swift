import DicomParser
import Testing
@testable import DicomRemote

/// s3:// against moto's S3 server (path style through `s3Endpoint`). moto in its default mode
/// enforces object ACLs for unsigned requests (public-read vs private) but accepts any
/// signature; in its auth mode (/moto-api/reset-auth) it verifies SigV4 signatures against its
/// IAM users' keys, but then answers anonymous and presigned requests with a 500 (moto 5.2), so
/// each test starts the mode it needs.
@Suite struct S3MotoTests {
    struct Moto {
        let server: PythonServer
        var endpoint: String { server.base }
        var accessKeyId: String { server.fields[0] }
        var secretAccessKey: String { server.fields[1] }
        var presignedPrivateURL: String { server.fields[2] }

        /// `keys` objects many/00000.dcm… (of 0–6 bytes) besides the fixed ones; `auth` turns on
        /// signature checking once the setup is done.
        init(keys: Int = 0, auth: Bool = false) throws {
            server = try PythonServer(script: motoScript, arguments: [String(keys), auth ? "auth" : "open"])
        }

        func client(signed: Bool, secret: String? = nil, retries: Int = 0) -> RemoteClient {
            RemoteClient(options: RemoteOptions(
                timeout: 20, retries: retries, s3Endpoint: endpoint,
                credentials: signed ? S3Credentials(accessKeyId: accessKeyId, secretAccessKey: secret ?? secretAccessKey) : nil))
        }
    }

    @Test func anonymousReadsPublicObjectsAndIsDeniedPrivateOnes() throws {
        let moto = try Moto()
        let client = moto.client(signed: false)
        let public_ = try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/public/blob.bin"), offset: 100, length: 50))
        #expect(public_.bytes == stubBytes(100..<150))
        #expect(public_.totalSize == 100_000)
        #expect(public_.etag != nil)
        let error = #expect(throws: RemoteError.self) {
            try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/private/blob.bin"), offset: 0, length: 10))
        }
        #expect(error?.kind == .forbidden)
        #expect(error?.status == 403)
        #expect(error?.description.hasPrefix("s3://dwc-test/private/blob.bin: ") == true)
        let missing = #expect(throws: RemoteError.self) {
            try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/public/nothing.dcm"), offset: 0, length: 10))
        }
        #expect(missing?.kind == .notFound)
    }

    @Test func signedRequestsPassMotosSignatureCheck() throws {
        let moto = try Moto(keys: 2500, auth: true)
        let client = moto.client(signed: true)
        let object = try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/private/blob.bin"), offset: 99_990, length: 100))
        #expect(object.bytes == stubBytes(99_990..<100_000))
        // A key with a space and "~": the canonical URI must be encoded as S3 does. ("+" and
        // non-ASCII keys fail moto 5.2's own check even for boto3: SigV4Tests covers them
        // against botocore.)
        let odd = try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/private/a b~c.bin"), offset: 0, length: 1000))
        #expect(odd.bytes == stubBytes(0..<1000))
        // Signed ListObjectsV2, 1,000 keys a page: 3 pages, continuation tokens signed too.
        // (Prefix "many", not "many/": moto 5.2's check fails any query value with an encoded
        // "/", boto3's as well; SigV4Tests checks such queries against botocore.)
        let before = client.statistics.requests
        let listed = try client.list(try RemoteURL("s3://dwc-test/many"))
        #expect(client.statistics.requests - before == 3)
        #expect(listed.count == 2500)
        #expect(listed.first?.url.description == "s3://dwc-test/many/00000.dcm")
        #expect(listed.last?.url.description == "s3://dwc-test/many/02499.dcm")
        #expect(listed.map(\.size) == (0..<2500).map { UInt64($0 % 7) })
        #expect(listed.allSatisfy { $0.etag != nil && $0.lastModified != nil })
        // The wrong secret: moto computes another signature and refuses.
        let error = #expect(throws: RemoteError.self) {
            try moto.client(signed: true, secret: "wrong").get(
                RangeRequest(url: try RemoteURL("s3://dwc-test/private/blob.bin"), offset: 0, length: 10))
        }
        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains("SignatureDoesNotMatch") == true)
    }

    @Test func presignedURLsAreReadAsPlainURLs() throws {
        let moto = try Moto()
        let client = moto.client(signed: false)
        let url = try RemoteURL(moto.presignedPrivateURL)
        #expect(url.query?.contains("X-Amz-Signature=") == true)
        let source = try RemoteByteSource(url: url, client: client)
        #expect(source.size == 100_000)
        #expect(try source.read(offset: 90_000, length: 10) == stubBytes(90_000..<90_010))
        // The same object without the query is private.
        let bare = try RemoteURL(moto.presignedPrivateURL.split(separator: "?")[0].description)
        #expect(throws: RemoteError.self) { try client.get(RangeRequest(url: bare, offset: 0, length: 1)) }
    }

    @Test func listingAnObjectOrAPrefix() throws {
        let moto = try Moto()
        let client = moto.client(signed: false)
        let one = try client.list(try RemoteURL("s3://dwc-test/private/blob.bin"))
        #expect(one.map(\.url.description) == ["s3://dwc-test/private/blob.bin"])
        #expect(one.first?.size == 100_000)
        let under = try client.list(try RemoteURL("s3://dwc-test/private"))
        #expect(under.map(\.url.description) == ["s3://dwc-test/private/a b~c.bin", "s3://dwc-test/private/blob.bin"])
        let error = #expect(throws: RemoteError.self) { try client.list(try RemoteURL("s3://dwc-test/nothing/")) }
        #expect(error?.kind == .notFound)
        // gs:// lists the same way over the XML API (moto stands in for storage.googleapis.com).
        let gcs = RemoteClient(options: RemoteOptions(timeout: 20, retries: 0, gcsEndpoint: moto.endpoint))
        #expect(try gcs.list(try RemoteURL("gs://dwc-test/private/")).map(\.url.description)
            == ["gs://dwc-test/private/a b~c.bin", "gs://dwc-test/private/blob.bin"])
    }

    @Test func overwrittenObjectFailsWith412() throws {
        let moto = try Moto()
        let client = moto.client(signed: false)
        let source = try RemoteByteSource(url: try RemoteURL("s3://dwc-test/public/blob.bin"), client: client)
        let etag = try #require(source.etag)
        try runPython(#"""
        import sys, boto3
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        s3.put_object(Bucket="dwc-test", Key="public/blob.bin", Body=b"changed" * 20000, ACL="public-read")
        """#, [moto.endpoint])
        let error = #expect(throws: RemoteError.self) { try source.read(offset: 80_000, length: 10) }
        #expect(error?.kind == .changed)
        #expect(error?.status == 412)
        // Directly: If-Match on the old ETag.
        let direct = #expect(throws: RemoteError.self) {
            try client.get(RangeRequest(url: try RemoteURL("s3://dwc-test/public/blob.bin"), offset: 0, length: 10, ifMatch: etag))
        }
        #expect(direct?.kind == .changed)
    }
}

/// Starts moto's S3 server on a free port, creates an IAM user with an access key allowed s3:*,
/// bucket dwc-test with public/blob.bin (public-read), private/blob.bin and "private/a b~c.bin"
/// (private; bytes i*31 mod 256) and argv[1] keys many/NNNNN.dcm, then prints
/// `PORT port key-id secret presigned-url-of-private/blob.bin`; argv[2] "auth" turns on moto's
/// signature checking after the setup.
let motoScript = #"""
import sys, os, threading, json
from moto.server import ThreadedMotoServer
import boto3, requests
from botocore.config import Config

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
_, port = server.get_host_and_port()
endpoint = f"http://127.0.0.1:{port}"
setup = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
s3 = boto3.client("s3", **setup)
iam = boto3.client("iam", **setup)
iam.create_user(UserName="reader")
policy = iam.create_policy(PolicyName="s3-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="reader", PolicyArn=policy["Policy"]["Arn"])
key = iam.create_access_key(UserName="reader")["AccessKey"]
DATA = bytes((i * 31) & 255 for i in range(100000))
s3.create_bucket(Bucket="dwc-test")
s3.put_object(Bucket="dwc-test", Key="public/blob.bin", Body=DATA, ACL="public-read")
s3.put_object(Bucket="dwc-test", Key="private/blob.bin", Body=DATA)
s3.put_object(Bucket="dwc-test", Key="private/a b~c.bin", Body=DATA[:1000])
# Many keys straight into moto's backend (thousands of PUTs over HTTP would take most of a minute).
from moto.s3.models import s3_backends
backend = s3_backends["123456789012"]["aws"]
for i in range(int(sys.argv[1])):
    backend.put_object("dwc-test", f"many/{i:05d}.dcm", b"x" * (i % 7))
signed = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"], config=Config(signature_version="s3v4"))
presigned = signed.generate_presigned_url("get_object", Params={"Bucket": "dwc-test", "Key": "private/blob.bin"},
                                          ExpiresIn=3600)
if sys.argv[2] == "auth":
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0").raise_for_status()
print("PORT", port, key["AccessKeyId"], key["SecretAccessKey"], presigned, flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
threading.Event().wait()
"""#
