import DicomCore
import DicomParser

/// What the index keeps of one instance: its file, the query attributes, and where its pixel
/// data and frames are.
public struct InstanceRecord: Sendable {
    public struct FileStamp: Sendable, Equatable {
        public var size: Int64
        public var mtimeNanoseconds: Int64
        public var inode: Int64
        /// The HTTP ETag of an object indexed from a URL (part of its identity there, as the
        /// inode is for a local file); nil for local files.
        public var etag: String?
        public init(size: Int64, mtimeNanoseconds: Int64, inode: Int64, etag: String? = nil) {
            self.size = size
            self.mtimeNanoseconds = mtimeNanoseconds
            self.inode = inode
            self.etag = etag
        }
    }

    /// As stored: relative to the archive root when inside it, else absolute.
    public var path: String
    public var stamp: FileStamp
    public var transferSyntax: String
    public var studyUID: String
    public var seriesUID: String
    public var sopUID: String
    /// Text values of the query attributes (multiple values joined by backslash), by tag.
    public var text: [Tag: String] = [:]
    /// Integer values of the query attributes of integer kind, by tag.
    public var integers: [Tag: Int] = [:]
    public var pixelOffset: UInt64?
    public var pixelLength: UInt64?
    public var pixelEncapsulated = false
    /// Packed frame spans (FrameSpan.pack) when the file has an offset table.
    public var frameTable: [UInt8]?

    /// Reads the record out of a parsed header. Throws when the UIDs that place the instance in
    /// the hierarchy are missing.
    public init(file: DicomFile, path: String, stamp: FileStamp) throws {
        let ds = file.dataSet
        func required(_ tag: Tag, _ name: String) throws -> String {
            guard let value = ds.string(tag), !value.isEmpty else {
                throw DicomParserError(.invalid, source: file.source.name, tag: tag, message: "missing \(name)")
            }
            return value
        }
        self.path = path
        self.stamp = stamp
        transferSyntax = file.transferSyntax.uid
        studyUID = try required(.studyInstanceUID, "StudyInstanceUID")
        seriesUID = try required(.seriesInstanceUID, "SeriesInstanceUID")
        sopUID = try required(.sopInstanceUID, "SOPInstanceUID")
        for attribute in QueryAttributes.all {
            if attribute.match == .integer {
                if let value = ds.int(attribute.tag) { integers[attribute.tag] = value }
            } else if let values = ds.strings(attribute.tag), !values.isEmpty {
                text[attribute.tag] = values.joined(separator: "\\")
            }
        }
        if text[.sopClassUID] == nil, let metaClass = file.fileMeta.string(.mediaStorageSOPClassUID) {
            text[.sopClassUID] = metaClass
        }
        if let location = try? file.pixelDataLocation() {
            pixelOffset = location.valueOffset
            pixelLength = location.length
            pixelEncapsulated = location.isEncapsulated
            let frames = max(1, ds.int(.numberOfFrames) ?? 1)
            if location.isEncapsulated, let table = try? file.frameSpansFromOffsetTables(location: location, frameCount: frames) {
                frameTable = FrameSpan.pack(table.spans)
            }
        }
    }
}
