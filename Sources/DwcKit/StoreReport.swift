import DicomCore
import DicomParser

/// Failure reasons of a STOW-RS response (PS3.18 §10.5.3, codes as PS3.4 / PS3.7 define them).
public enum StoreFailureReason: UInt16, Sendable, CaseIterable {
    /// Processing failure: an input that cannot be read, an I/O error, a change under our feet.
    case processingFailure = 0x0110
    /// Duplicate SOP Instance: another file with this SOP Instance UID is stored.
    case duplicate = 0x0111
    /// SOP Class not supported (a DICOMDIR is not an instance).
    case sopClassNotSupported = 0x0122
    /// Out of resources: no space, quota or file-size limit.
    case outOfResources = 0xA700
    /// Data set does not match SOP class: UIDs missing or invalid, meta disagreeing with the data set.
    case dataSetMismatch = 0xA900
    /// Cannot understand: not DICOM, truncated, malformed, no file meta (without --add-meta).
    case cannotUnderstand = 0xC000

    public var meaning: String {
        switch self {
        case .processingFailure: return "processing failure"
        case .duplicate: return "duplicate SOP instance"
        case .sopClassNotSupported: return "SOP class not supported"
        case .outOfResources: return "out of resources"
        case .dataSetMismatch: return "data set does not match SOP class"
        case .cannotUnderstand: return "cannot understand"
        }
    }
}

/// Warning reasons of a STOW-RS response (PS3.18 §10.5.3).
public enum StoreWarningReason: UInt16, Sendable {
    /// Coercion of data elements: the file meta was written by dwc (--add-meta).
    case coercion = 0xB000
}

/// What happened to one input.
public struct StoreResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Written into the archive and indexed.
        case stored
        /// Written over a different file with the same SOP Instance UID (--on-duplicate replace).
        case replaced
        /// The same bytes were stored already; nothing written.
        case alreadyStored
        /// Another file with this SOP Instance UID is stored; kept (--on-duplicate skip).
        case skipped
        case failed(StoreFailureReason)
        /// Found by a directory walk but not DICOM (or a DICOMDIR): left alone, not in the response.
        case ignored
    }

    /// The input path, or "-" for stdin.
    public var source: String
    public var outcome: Outcome
    public var sopClassUID: String?
    public var sopInstanceUID: String?
    /// The absolute path of the stored file (for stored, replaced, already stored, skipped).
    public var storedPath: String?
    public var warning: StoreWarningReason?
    /// Why it failed or was coerced, for people.
    public var message: String?

    public init(source: String, outcome: Outcome, sopClassUID: String? = nil, sopInstanceUID: String? = nil,
                storedPath: String? = nil, warning: StoreWarningReason? = nil, message: String? = nil) {
        self.source = source
        self.outcome = outcome
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.storedPath = storedPath
        self.warning = warning
        self.message = message
    }

    public var isFailure: Bool { if case .failed = outcome { return true } else { return false } }
}

/// The results of one `dwc store`, as a STOW-RS response data set and a summary line.
public struct StoreReport: Sendable {
    public var results: [StoreResult] = []
    public var elapsedSeconds = 0.0

    public init(results: [StoreResult] = [], elapsedSeconds: Double = 0) {
        self.results = results
        self.elapsedSeconds = elapsedSeconds
    }

    public var stored: Int { results.filter { $0.outcome == .stored }.count }
    public var replaced: Int { results.filter { $0.outcome == .replaced }.count }
    public var alreadyStored: Int { results.filter { $0.outcome == .alreadyStored }.count }
    public var skipped: Int { results.filter { $0.outcome == .skipped }.count }
    public var ignored: Int { results.filter { $0.outcome == .ignored }.count }
    public var failed: Int { results.filter(\.isFailure).count }
    /// Inputs that count for the exit status (ignored files do not).
    public var considered: Int { results.count - ignored }

    /// 0 when nothing failed, 22 when some inputs failed, 23 when all failed.
    public var exitStatus: ExitStatus {
        if failed == 0 { return .ok }
        return failed == considered ? .noValidInput : .invalidInput
    }

    public var filesPerSecond: Double { elapsedSeconds > 0 ? Double(stored + replaced) / elapsedSeconds : 0 }

    public var line: String {
        "stored: \(stored) stored, \(alreadyStored) already stored, \(replaced) replaced, \(skipped) skipped-duplicate, "
            + "\(ignored) skipped-not-DICOM, \(failed) failed in \(String(format1: elapsedSeconds)) s "
            + "(\(Int(filesPerSecond.rounded())) files/s)"
    }

    /// Private block of dwc in the response items: where each came from and why it failed.
    public static let privateCreator = "DWC STORE"
    public static let privateCreatorTag = Tag(0x0009, 0x0010)
    /// (0009,1001) UT: the input path ("-" for stdin).
    public static let sourceTag = Tag(0x0009, 0x1001)
    /// (0009,1002) UT: the reason in words.
    public static let messageTag = Tag(0x0009, 0x1002)

    static let retrieveURL = Tag(0x0008, 0x1190)
    static let warningReason = Tag(0x0008, 0x1196)
    static let failureReason = Tag(0x0008, 0x1197)
    static let failedSOPSequence = Tag(0x0008, 0x1198)
    static let referencedSOPSequence = Tag(0x0008, 0x1199)
    static let referencedSOPClassUID = Tag(0x0008, 0x1150)
    static let referencedSOPInstanceUID = Tag(0x0008, 0x1155)

    /// The Store Instances Response (PS3.18 §10.5.3): Retrieve URL (empty: instances of several
    /// studies may be stored), Failed SOP Sequence and Referenced SOP Sequence, items in input
    /// order; files a directory walk found to be not DICOM are left out.
    public func dataSet() -> DataSet {
        let utf8 = SpecificCharacterSet(terms: ["ISO_IR 192"])
        var response = DataSet(characterSet: utf8)
        response.set(DataElement(tag: Self.retrieveURL, vr: .UR, bytes: []))
        var failed: [DataSet] = [], referenced: [DataSet] = []
        for result in results {
            var item = DataSet(characterSet: utf8)
            if let uid = result.sopClassUID { item.set(DataElement(tag: Self.referencedSOPClassUID, vr: .UI, bytes: DicomWriter.uidBytes(uid))) }
            if let uid = result.sopInstanceUID { item.set(DataElement(tag: Self.referencedSOPInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(uid))) }
            item.set(DataElement(tag: Self.privateCreatorTag, vr: .LO, bytes: DicomWriter.textBytes(Self.privateCreator)))
            item.set(DataElement(tag: Self.sourceTag, vr: .UT, bytes: DicomWriter.textBytes(result.source)))
            if let message = result.message {
                item.set(DataElement(tag: Self.messageTag, vr: .UT, bytes: DicomWriter.textBytes(message)))
            }
            switch result.outcome {
            case .ignored:
                continue
            case .failed(let reason):
                item.set(DataElement(tag: Self.failureReason, vr: .US, bytes: us(reason.rawValue)))
                failed.append(item)
            case .stored, .replaced, .alreadyStored, .skipped:
                if let path = result.storedPath {
                    item.set(DataElement(tag: Self.retrieveURL, vr: .UR, bytes: DicomWriter.textBytes(fileURI(path))))
                }
                if let warning = result.warning {
                    item.set(DataElement(tag: Self.warningReason, vr: .US, bytes: us(warning.rawValue)))
                }
                referenced.append(item)
            }
        }
        if !failed.isEmpty { response.set(DataElement(tag: Self.failedSOPSequence, vr: .SQ, value: .sequence(failed))) }
        if !referenced.isEmpty { response.set(DataElement(tag: Self.referencedSOPSequence, vr: .SQ, value: .sequence(referenced))) }
        return response
    }

    public func json(pretty: Bool) throws -> String {
        try DicomJSONEncoder(options: DicomJSONOptions(pretty: pretty)).encode(dataSet())
    }
}

private func us(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }

/// `file://` URI of an absolute path, percent-encoding everything but unreserved characters and '/'.
public func fileURI(_ path: String) -> String {
    let keep = { (byte: UInt8) in StoreLayout.isSafe(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "~") }
    if path.utf8.allSatisfy(keep) { return "file://" + path }
    var uri = "file://"
    for byte in path.utf8 {
        if keep(byte) {
            uri.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = Array("0123456789ABCDEF".utf8)
            uri += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }
    }
    return uri
}
