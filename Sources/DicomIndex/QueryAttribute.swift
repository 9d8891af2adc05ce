import DicomCore

public enum QueryLevel: String, Sendable, CaseIterable {
    case study, series, instance

    /// The table that holds this level's attributes.
    var table: String {
        switch self {
        case .study: return "studies"
        case .series: return "series"
        case .instance: return "instances"
        }
    }
}

/// How a query value matches an attribute (PS3.4 C.2.2.2, PS3.18 §8.3.4).
public enum MatchKind: Sendable {
    /// Single value with `*` and `?` wildcards, case-sensitive.
    case text
    /// Person name: wildcards, case-insensitive for all of Unicode, any of the three groups.
    case personName
    /// DA, TM, DT: single value or range `A-B`, `-B`, `A-`.
    case date, time, dateTime
    /// UI: single UID or a backslash-separated list.
    case uid
    /// IS, US: single value.
    case integer
    /// Returned only (computed or not matchable).
    case none
}

/// An attribute the index stores in a typed column and can match and return.
public struct QueryAttribute: Sendable {
    public let tag: Tag
    public let keyword: String
    public let vr: VR
    public let level: QueryLevel
    /// Column in the level's table.
    public let column: String
    public let match: MatchKind
    /// Returned at its level without being asked for (PS3.18 Table 10.6.3-3/-4/-5).
    public let required: Bool

    init(_ keyword: String, _ level: QueryLevel, _ column: String, _ match: MatchKind, required: Bool = false) {
        let entry = DataDictionary.entry(keyword: keyword)!
        self.tag = entry.tag
        self.keyword = keyword
        self.vr = entry.vr
        self.level = level
        self.column = column
        self.match = match
        self.required = required
    }
}

/// The attributes the index keeps: every QIDO-RS matching and return key of PS3.18 §10.6 and a
/// few more people search on. Changing this list changes the schema signature, so an index
/// made with another list is reported stale.
public enum QueryAttributes {
    public static let all: [QueryAttribute] = [
        // Study level (patient attributes are returned with the study, as QIDO-RS does).
        QueryAttribute("StudyDate", .study, "study_date", .date, required: true),
        QueryAttribute("StudyTime", .study, "study_time", .time, required: true),
        QueryAttribute("AccessionNumber", .study, "accession_number", .text, required: true),
        QueryAttribute("ReferringPhysicianName", .study, "referring_physician_name", .personName, required: true),
        QueryAttribute("TimezoneOffsetFromUTC", .study, "timezone_offset", .text, required: true),
        QueryAttribute("PatientName", .study, "patient_name", .personName, required: true),
        QueryAttribute("PatientID", .study, "patient_id", .text, required: true),
        QueryAttribute("IssuerOfPatientID", .study, "issuer_of_patient_id", .text),
        QueryAttribute("PatientBirthDate", .study, "patient_birth_date", .date, required: true),
        QueryAttribute("PatientSex", .study, "patient_sex", .text, required: true),
        QueryAttribute("PatientAge", .study, "patient_age", .text),
        QueryAttribute("StudyInstanceUID", .study, "study_uid", .uid, required: true),
        QueryAttribute("StudyID", .study, "study_id", .text, required: true),
        QueryAttribute("StudyDescription", .study, "study_description", .text),
        QueryAttribute("InstitutionName", .study, "institution_name", .text),
        // Series level.
        QueryAttribute("Modality", .series, "modality", .text, required: true),
        QueryAttribute("SeriesInstanceUID", .series, "series_uid", .uid, required: true),
        QueryAttribute("SeriesNumber", .series, "series_number", .integer, required: true),
        QueryAttribute("SeriesDescription", .series, "series_description", .text, required: true),
        QueryAttribute("SeriesDate", .series, "series_date", .date),
        QueryAttribute("SeriesTime", .series, "series_time", .time),
        QueryAttribute("PerformedProcedureStepStartDate", .series, "pps_start_date", .date, required: true),
        QueryAttribute("PerformedProcedureStepStartTime", .series, "pps_start_time", .time, required: true),
        QueryAttribute("BodyPartExamined", .series, "body_part_examined", .text),
        QueryAttribute("Laterality", .series, "laterality", .text),
        QueryAttribute("Manufacturer", .series, "manufacturer", .text),
        QueryAttribute("ManufacturerModelName", .series, "manufacturer_model_name", .text),
        QueryAttribute("StationName", .series, "station_name", .text),
        QueryAttribute("ProtocolName", .series, "protocol_name", .text),
        QueryAttribute("OperatorsName", .series, "operators_name", .personName),
        // Instance level.
        QueryAttribute("SOPClassUID", .instance, "sop_class_uid", .uid, required: true),
        QueryAttribute("SOPInstanceUID", .instance, "sop_uid", .uid, required: true),
        QueryAttribute("InstanceNumber", .instance, "instance_number", .integer, required: true),
        QueryAttribute("ContentDate", .instance, "content_date", .date),
        QueryAttribute("ContentTime", .instance, "content_time", .time),
        QueryAttribute("AcquisitionDateTime", .instance, "acquisition_datetime", .dateTime),
        QueryAttribute("Rows", .instance, "rows", .integer, required: true),
        QueryAttribute("Columns", .instance, "columns", .integer, required: true),
        QueryAttribute("BitsAllocated", .instance, "bits_allocated", .integer, required: true),
        QueryAttribute("NumberOfFrames", .instance, "number_of_frames", .integer, required: true),
        QueryAttribute("SamplesPerPixel", .instance, "samples_per_pixel", .integer),
        QueryAttribute("BitsStored", .instance, "bits_stored", .integer),
        QueryAttribute("PhotometricInterpretation", .instance, "photometric", .text),
        QueryAttribute("ImageType", .instance, "image_type", .none),
    ]

    public static func attributes(at level: QueryLevel) -> [QueryAttribute] { byLevel[level] ?? [] }

    private static let byLevel: [QueryLevel: [QueryAttribute]] = Dictionary(grouping: all, by: \.level)

    public static func attribute(for tag: Tag) -> QueryAttribute? { byTag[tag] }

    private static let byTag: [Tag: QueryAttribute] = Dictionary(uniqueKeysWithValues: all.map { ($0.tag, $0) })

    /// Computed attributes, matched and returned from aggregates kept in the index.
    public static let modalitiesInStudy = Tag(0x0008, 0x0061)
    public static let sopClassesInStudy = Tag(0x0008, 0x0062)
    public static let numberOfStudyRelatedSeries = Tag(0x0020, 0x1206)
    public static let numberOfStudyRelatedInstances = Tag(0x0020, 0x1208)
    public static let numberOfSeriesRelatedInstances = Tag(0x0020, 0x1209)
    public static let retrieveURL = Tag(0x0008, 0x1190)
    public static let availableTransferSyntaxUID = Tag(0x0008, 0x3002)
    public static let instanceAvailability = Tag(0x0008, 0x0056)
    public static let specificCharacterSet = Tag(0x0008, 0x0005)

    /// Identifies this attribute list and column layout; stored in the index.
    public static var signature: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for a in all {
            for byte in "\(a.level.rawValue):\(a.tag.hexString):\(a.column);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }
}
