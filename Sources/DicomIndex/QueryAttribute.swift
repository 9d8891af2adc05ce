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
    /// Its VM allows several values (the dictionary's VM is not "1").
    public let isMultiValued: Bool

    /// Tag, VR and multiplicity are written out (and checked against the dictionary by a test)
    /// so that opening the index or searching does not have to load the data dictionary.
    init(_ keyword: String, _ tag: UInt32, _ vr: VR, _ level: QueryLevel, _ column: String, _ match: MatchKind, required: Bool = false,
         multiValued: Bool = false) {
        self.tag = Tag(rawValue: tag)
        self.keyword = keyword
        self.vr = vr
        self.level = level
        self.column = column
        self.match = match
        self.required = required
        isMultiValued = multiValued
    }
}

/// The attributes the index keeps: every QIDO-RS matching and return key of PS3.18 §10.6 and a
/// few more people search on. Changing this list changes the schema signature, so an index
/// made with another list is reported stale.
public enum QueryAttributes {
    public static let all: [QueryAttribute] = [
        // Study level (patient attributes are returned with the study, as QIDO-RS does).
        QueryAttribute("StudyDate", 0x00080020, .DA, .study, "study_date", .date, required: true),
        QueryAttribute("StudyTime", 0x00080030, .TM, .study, "study_time", .time, required: true),
        QueryAttribute("AccessionNumber", 0x00080050, .SH, .study, "accession_number", .text, required: true),
        QueryAttribute("ReferringPhysicianName", 0x00080090, .PN, .study, "referring_physician_name", .personName, required: true),
        QueryAttribute("TimezoneOffsetFromUTC", 0x00080201, .SH, .study, "timezone_offset", .text, required: true),
        QueryAttribute("PatientName", 0x00100010, .PN, .study, "patient_name", .personName, required: true),
        QueryAttribute("PatientID", 0x00100020, .LO, .study, "patient_id", .text, required: true),
        QueryAttribute("IssuerOfPatientID", 0x00100021, .LO, .study, "issuer_of_patient_id", .text),
        QueryAttribute("PatientBirthDate", 0x00100030, .DA, .study, "patient_birth_date", .date, required: true),
        QueryAttribute("PatientSex", 0x00100040, .CS, .study, "patient_sex", .text, required: true),
        QueryAttribute("PatientAge", 0x00101010, .AS, .study, "patient_age", .text),
        QueryAttribute("StudyInstanceUID", 0x0020000D, .UI, .study, "study_uid", .uid, required: true),
        QueryAttribute("StudyID", 0x00200010, .SH, .study, "study_id", .text, required: true),
        QueryAttribute("StudyDescription", 0x00081030, .LO, .study, "study_description", .text),
        QueryAttribute("InstitutionName", 0x00080080, .LO, .study, "institution_name", .text),
        // Series level.
        QueryAttribute("Modality", 0x00080060, .CS, .series, "modality", .text, required: true),
        QueryAttribute("SeriesInstanceUID", 0x0020000E, .UI, .series, "series_uid", .uid, required: true),
        QueryAttribute("SeriesNumber", 0x00200011, .IS, .series, "series_number", .integer, required: true),
        QueryAttribute("SeriesDescription", 0x0008103E, .LO, .series, "series_description", .text, required: true),
        QueryAttribute("SeriesDate", 0x00080021, .DA, .series, "series_date", .date),
        QueryAttribute("SeriesTime", 0x00080031, .TM, .series, "series_time", .time),
        QueryAttribute("PerformedProcedureStepStartDate", 0x00400244, .DA, .series, "pps_start_date", .date, required: true),
        QueryAttribute("PerformedProcedureStepStartTime", 0x00400245, .TM, .series, "pps_start_time", .time, required: true),
        QueryAttribute("BodyPartExamined", 0x00180015, .CS, .series, "body_part_examined", .text),
        QueryAttribute("Laterality", 0x00200060, .CS, .series, "laterality", .text),
        QueryAttribute("Manufacturer", 0x00080070, .LO, .series, "manufacturer", .text),
        QueryAttribute("ManufacturerModelName", 0x00081090, .LO, .series, "manufacturer_model_name", .text),
        QueryAttribute("StationName", 0x00081010, .SH, .series, "station_name", .text),
        QueryAttribute("ProtocolName", 0x00181030, .LO, .series, "protocol_name", .text),
        QueryAttribute("OperatorsName", 0x00081070, .PN, .series, "operators_name", .personName, multiValued: true),
        // Instance level.
        QueryAttribute("SOPClassUID", 0x00080016, .UI, .instance, "sop_class_uid", .uid, required: true),
        QueryAttribute("SOPInstanceUID", 0x00080018, .UI, .instance, "sop_uid", .uid, required: true),
        QueryAttribute("InstanceNumber", 0x00200013, .IS, .instance, "instance_number", .integer, required: true),
        QueryAttribute("ContentDate", 0x00080023, .DA, .instance, "content_date", .date),
        QueryAttribute("ContentTime", 0x00080033, .TM, .instance, "content_time", .time),
        QueryAttribute("AcquisitionDateTime", 0x0008002A, .DT, .instance, "acquisition_datetime", .dateTime),
        QueryAttribute("Rows", 0x00280010, .US, .instance, "rows", .integer, required: true),
        QueryAttribute("Columns", 0x00280011, .US, .instance, "columns", .integer, required: true),
        QueryAttribute("BitsAllocated", 0x00280100, .US, .instance, "bits_allocated", .integer, required: true),
        QueryAttribute("NumberOfFrames", 0x00280008, .IS, .instance, "number_of_frames", .integer, required: true),
        QueryAttribute("SamplesPerPixel", 0x00280002, .US, .instance, "samples_per_pixel", .integer),
        QueryAttribute("BitsStored", 0x00280101, .US, .instance, "bits_stored", .integer),
        QueryAttribute("PhotometricInterpretation", 0x00280004, .CS, .instance, "photometric", .text),
        QueryAttribute("ImageType", 0x00080008, .CS, .instance, "image_type", .none, multiValued: true),
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

    /// Identifies this attribute list and column layout; stored in the index. Computed once per
    /// process: every index open compares it, and hashing the list cost more than the open's
    /// own SQL.
    public static let signature: String = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for a in all {
            for byte in "\(a.level.rawValue):\(a.tag.hexString):\(a.column);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }()
}
