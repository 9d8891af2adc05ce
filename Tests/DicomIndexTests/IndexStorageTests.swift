import DicomCore
import DicomIndex
import Testing

@Suite struct IndexStorageTests {
    /// Objects indexed from URLs carry their HTTP ETag; local files store NULL and read back nil.
    @Test func etagIsKeptForInstancesAndFiles() throws {
        let index = try TestIndex()
        var remote = try TestInstance(study: "1.2.3", series: "1.2.3.1", sop: "1.2.3.1.1", path: "https://h/a.dcm").record()
        remote.stamp.etag = "\"abc-1\""
        let local = try TestInstance(study: "1.2.3", series: "1.2.3.1", sop: "1.2.3.1.2").record()
        let junkStamp = InstanceRecord.FileStamp(size: 3, mtimeNanoseconds: 4, inode: 0, etag: "W/\"j\"")
        _ = try index.index.record([.instance(remote), .instance(local),
                                    .other(path: "https://h/junk", stamp: junkStamp, status: .notDicom, message: "x")],
                                   isLive: { _ in true })
        #expect(try index.index.instance(sopUID: "1.2.3.1.1")?.stamp.etag == "\"abc-1\"")
        #expect(try index.index.instance(sopUID: "1.2.3.1.2")?.stamp.etag == nil)
        let known = try index.index.knownFiles()
        #expect(known["https://h/a.dcm"]?.stamp == remote.stamp)
        #expect(known["https://h/junk"]?.stamp.etag == "W/\"j\"")
        #expect(known[local.path]?.stamp.etag == nil)
    }
}
