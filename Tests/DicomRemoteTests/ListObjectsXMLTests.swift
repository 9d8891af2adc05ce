import Testing
@testable import DicomRemote

@Suite struct ListObjectsXMLTests {
    @Test func readsAPageWithEncodedKeys() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>d/</Prefix>\
        <KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
        <Contents><Key>d/a%20b%2Bc.dcm</Key><LastModified>2024-03-01T12:30:45.123Z</LastModified>\
        <ETag>&quot;abc&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>\
        <Contents><Key>d/%C3%A9&amp;.dcm</Key><LastModified>2024-03-01T12:30:45Z</LastModified><ETag>"x-2"</ETag>\
        <Size>0</Size></Contents>\
        <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>
        """
        let page = try ListObjectsXML.parse(Array(xml.utf8))
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        #expect(page.entries.map(\.key) == ["d/a b+c.dcm", "d/é&.dcm"])
        #expect(page.entries.map(\.size) == [1234, 0])
        #expect(page.entries.map(\.etag) == ["\"abc\"", "\"x-2\""])
        #expect(page.entries[0].lastModified == 1_709_296_245_123_000_000)
        #expect(page.entries[1].lastModified == 1_709_296_245_000_000_000)
    }

    @Test func rejectsWhatIsNotAListing() {
        #expect(throws: ListObjectsXML.Malformed.self) { try ListObjectsXML.parse(Array("<Error><Code>x</Code></Error>".utf8)) }
        #expect(throws: ListObjectsXML.Malformed.self) {
            try ListObjectsXML.parse(Array("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>".utf8))
        }
        #expect(throws: ListObjectsXML.Malformed.self) {
            try ListObjectsXML.parse(Array("<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>".utf8))
        }
    }

    @Test func datesAndEntities() {
        #expect(HTTPDates.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000_000_000)
        #expect(HTTPDates.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDates.parseISO8601("2009-10-12T17:50:30.5Z") == 1_255_369_830_500_000_000)
        #expect(HTTPDates.parseISO8601("2009-13-12T17:50:30Z") == nil)
        #expect(ListObjectsXML.decodeEntities("a&lt;b&gt;&#65;&#x42;&bogus;") == "a<b>AB&bogus;")
        #expect(percentDecode("%zz") == nil)
        #expect(RemoteClient.parseContentRange("bytes 0-9/100")! == (0, 9, 100))
        #expect(RemoteClient.parseContentRange("bytes 0-9/*")! == (0, 9, nil))
        #expect(RemoteClient.parseContentRange("bytes 0-100/100") == nil)
    }
}
