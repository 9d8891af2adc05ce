import DicomCore
@testable import DicomIndex
import Foundation
import Testing

/// `swift test --filter SearchTests` runs these and the CLI ones (DwcCLITests.SearchTests).
@Suite enum SearchTests {}

extension SearchTests {
    @Suite struct Matching {
        // MARK: Single value, universal, wildcards

        @Test func singleValueIsExactAndCaseSensitive() throws {
            let t = try TestIndex([
                study("1.1", ["PatientID": "ABC", "StudyDescription": "Brain"]),
                study("1.2", ["PatientID": "abc", "StudyDescription": "Brain MRI"]),
                study("1.3", ["PatientID": "ABCD"]),
            ])
            #expect(try t.uids(.study, ["PatientID=ABC"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientID=abc"]) == ["1.2"])
            #expect(try t.uids(.study, ["StudyDescription=Brain"]) == ["1.1"], "no prefix match without a wildcard")
            #expect(try t.uids(.study, ["PatientID=AB"]).isEmpty)
        }

        @Test func emptyValueIsUniversalAndReturnsTheAttribute() throws {
            let t = try TestIndex([
                study("1.1", ["StudyDate": "20240101", "InstitutionName": "General"]),
                study("1.2", ["StudyDate": "20240102"]),
            ])
            let institution = Tag(0x0008, 0x0080)
            let plain = try t.search(.study)
            #expect(plain.count == 2)
            #expect(plain.allSatisfy { !$0.columns.contains { $0.tag == institution } }, "not returned unless asked")
            for keys in [["InstitutionName="], ["InstitutionName=*"], ["InstitutionName=**"], ["InstitutionName"]] {
                let results = try t.search(.study, keys)
                #expect(results.count == 2, "universal matching keeps studies without a value: \(keys)")
                #expect(results.allSatisfy { $0.columns.contains { $0.tag == institution } })
                #expect(results[0].value(institution) == .text("General"))
                #expect(results[1].value(institution) == nil)
            }
            // Returned zero-length when the index has no value.
            let object = try jsonObject(try t.search(.study, ["InstitutionName"])[1])
            #expect((object["00080080"] as? [String: Any])?["vr"] as? String == "LO")
            #expect((object["00080080"] as? [String: Any])?["Value"] == nil)
        }

        @Test func starAndQuestionMarkWildcards() throws {
            let t = try TestIndex([
                study("1.1", ["StudyDescription": "Brain MRI"]),
                study("1.2", ["StudyDescription": "Brain CT"]),
                study("1.3", ["StudyDescription": "Chest CT"]),
                study("1.4", ["StudyDescription": "Brian"]),
            ])
            #expect(try t.uids(.study, ["StudyDescription=Brain*"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["StudyDescription=*CT"]) == ["1.2", "1.3"])
            #expect(try t.uids(.study, ["StudyDescription=B*T"]) == ["1.2"], "wildcard in the middle")
            #expect(try t.uids(.study, ["StudyDescription=Br??n"]) == ["1.4"], "? is exactly one character")
            #expect(try t.uids(.study, ["StudyDescription=Bra?n*"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["StudyDescription=brain*"]).isEmpty, "wildcard matching stays case-sensitive")
            #expect(try t.uids(.study, ["StudyDescription=?"]).isEmpty)
        }

        /// A prefix wildcard is answered through an explicit index range: values at the edges of
        /// that range, and non-ASCII last characters, still match exactly as GLOB does.
        @Test func prefixWildcardsAtTheEdgesOfTheirRange() throws {
            let ids = ["AB", "ABC", "AB\u{7F}x", "AC", "Aé", "Aéz", "Af", "A\u{D7FF}x", "A\u{E000}", "AA"]
            let t = try TestIndex(ids.enumerated().map { study("1.\($0.offset)", ["PatientID": $0.element]) })
            func matching(_ pattern: String) throws -> Set<String> {
                Set(try t.search(.study, ["PatientID=" + pattern]).compactMap { $0.value(Tag(0x0010, 0x0020))?.description })
            }
            #expect(try matching("AB*") == ["AB", "ABC", "AB\u{7F}x"])
            #expect(try matching("Aé*") == ["Aé", "Aéz"])
            #expect(try matching("A\u{D7FF}*") == ["A\u{D7FF}x"])
            #expect(try matching("A*") == Set(ids))
            #expect(try matching("A?") == ["AB", "AC", "Aé", "Af", "A\u{E000}", "AA"])
        }

        @Test func likeMetacharactersMatchLiterally() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["AccessionNumber": "100%", "SeriesDescription": "T1_MPRAGE"]),
                TestInstance(study: "1.2", series: "1.2.1", sop: "1.2.1.1", ["AccessionNumber": "1000", "SeriesDescription": "T1XMPRAGE"]),
                TestInstance(study: "1.3", series: "1.3.1", sop: "1.3.1.1", ["AccessionNumber": "100", "SeriesDescription": "T1__MPRAGE"]),
            ])
            #expect(try t.uids(.study, ["AccessionNumber=100%"]) == ["1.1"])
            #expect(try t.uids(.study, ["AccessionNumber=100%*"]) == ["1.1"])
            #expect(try t.uids(.study, ["AccessionNumber=100*"]) == ["1.1", "1.2", "1.3"])
            #expect(try t.uids(.series, ["SeriesDescription=T1_MPRAGE"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["SeriesDescription=T1_*"]) == ["1.1.1", "1.3.1"])
            #expect(try t.uids(.series, ["SeriesDescription=T1_M*"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["SeriesDescription=%"]).isEmpty)
        }

        @Test func globMetacharactersInValuesMatchLiterally() throws {
            let t = try TestIndex([
                study("1.1", ["StudyDescription": "Head [contrast]"]),
                study("1.2", ["StudyDescription": "Head c"]),
                study("1.3", ["StudyDescription": "Head ]x["]),
            ])
            #expect(try t.uids(.study, ["StudyDescription=Head [contrast]"]) == ["1.1"])
            #expect(try t.uids(.study, ["StudyDescription=Head [c*"]) == ["1.1"], "[ is not a character class")
            #expect(try t.uids(.study, ["StudyDescription=Head [c]*"]).isEmpty)
            #expect(try t.uids(.study, ["StudyDescription=*]x[*"]) == ["1.3"])
            #expect(try t.uids(.study, ["StudyDescription=Head ?x["]) == ["1.3"])
        }

        @Test func valuesAreBoundNeverSpliced() throws {
            let t = try TestIndex([study("1.1", ["PatientID": "x'; DROP TABLE studies; --"])])
            #expect(try t.uids(.study, ["PatientID=x'; DROP TABLE studies; --"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientID=' OR '1'='1"]).isEmpty)
            #expect(try t.uids(.study).count == 1)
        }

        // MARK: Ranges

        @Test func dateRangesAreInclusiveAndMayBeOpen() throws {
            let t = try TestIndex([
                study("1.1", ["StudyDate": "20231231"]),
                study("1.2", ["StudyDate": "20240101"]),
                study("1.3", ["StudyDate": "20240115"]),
                study("1.4", ["StudyDate": "20240131"]),
                study("1.5", ["StudyDate": "20240201"]),
                study("1.6"),
            ])
            #expect(try t.uids(.study, ["StudyDate=20240101-20240131"]) == ["1.2", "1.3", "1.4"])
            #expect(try t.uids(.study, ["StudyDate=-20240101"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["StudyDate=20240131-"]) == ["1.4", "1.5"])
            #expect(try t.uids(.study, ["StudyDate=20240115"]) == ["1.3"])
            #expect(try t.uids(.study, ["StudyDate=20240115-20240115"]) == ["1.3"])
            #expect(try t.uids(.study, ["StudyDate=2024.01.15"]) == ["1.3"], "the old YYYY.MM.DD form")
            #expect(try t.uids(.study, ["StudyDate=20240102-20240114"]).isEmpty)
            #expect(try t.uids(.study).last == "1.6", "no date: last, and matched only universally")
            #expect(try t.uids(.study, ["PatientBirthDate=-20991231"]).isEmpty)
        }

        @Test func malformedRangesAreErrors() throws {
            let t = try TestIndex([study("1.1", ["StudyDate": "20240101", "StudyTime": "1200"])])
            for value in ["2024", "2024-13", "20241301", "20240132", "20240201-20240101", "abc", "-", "2024-01-01", "20240101-20240102-20240103"] {
                expectQueryError("StudyDate=\(value)") { _ = try t.search(.study, ["StudyDate=\(value)"]) }
            }
            for value in ["25", "0961", "093000.1234567", "1", "12-11-10", "ab", "2400-0100"] {
                expectQueryError("StudyTime=\(value)") { _ = try t.search(.study, ["StudyTime=\(value)"]) }
            }
            for value in ["2024010", "20240101-20230101", "20240101+01", "x-"] {
                expectQueryError("AcquisitionDateTime") { _ = try t.search(.instance, ["AcquisitionDateTime=\(value)"]) }
            }
        }

        @Test func timeRangesWithFractionsAndLowerPrecisionEnds() throws {
            let times = ["093000", "093000.5", "093059.999", "0931", "10", "235959.999999", "09:45:00"]
            let t = try TestIndex(times.enumerated().map { study("1.\($0.offset + 1)", ["StudyTime": $0.element]) })
            func matching(_ value: String) throws -> [String] {
                let byUID = Dictionary(uniqueKeysWithValues: times.enumerated().map { ("1.\($0.offset + 1)", $0.element) })
                return try t.uids(.study, ["StudyTime=\(value)"]).map { byUID[$0]! }.sorted()
            }
            #expect(try matching("093000.5-093001") == ["093000.5"])
            #expect(try matching("-0930") == ["093000", "093000.5", "093059.999"], "an HHMM end covers its whole minute")
            #expect(try matching("0931-") == ["0931", "09:45:00", "10", "235959.999999"])
            #expect(try matching("09") == ["093000", "093000.5", "093059.999", "0931", "09:45:00"], "a single HH covers the hour")
            #expect(try matching("093000") == ["093000", "093000.5"], "a single HHMMSS covers the second")
            #expect(try matching("093000.5") == ["093000.5"])
            #expect(try matching("093000.6-093059.998").isEmpty)
            #expect(try matching("093059.999-093059.999") == ["093059.999"], "inclusive at both ends")
            #expect(try matching("23-") == ["235959.999999"])
            #expect(try matching("-235959") == times.sorted())
            #expect(try matching("0945") == ["09:45:00"], "the old HH:MM:SS form is stored as seconds too")
        }

        /// A TM range whose start is later than its end wraps around midnight (dcm4chee-arc-light's
        /// reading of what PS3.4 C.2.2.2.5.2 leaves undefined), with the precision rules of both
        /// ends; open ranges and ordinary ranges are unchanged.
        @Test func timeRangesAcrossMidnight() throws {
            let times = ["000000", "015959.999999", "02", "0200", "020100", "120000", "215959.999999", "2200", "235959.999999"]
            let t = try TestIndex(times.enumerated().map { study("1.\($0.offset + 1)", ["StudyTime": $0.element]) } + [study("1.99")])
            func matching(_ value: String) throws -> [String] {
                let byUID = Dictionary(uniqueKeysWithValues: times.enumerated().map { ("1.\($0.offset + 1)", $0.element) })
                return try t.uids(.study, ["StudyTime=\(value)"]).map { byUID[$0] ?? "none" }.sorted()
            }
            #expect(try matching("2200-0200") == ["000000", "015959.999999", "02", "0200", "2200", "235959.999999"],
                    "an HHMM end covers its minute: 02:00:59.999999 is inside, 02:01 is not")
            #expect(try matching("22-01") == ["000000", "015959.999999", "2200", "235959.999999"], "an HH end covers its hour")
            #expect(try matching("220000.000001-000000") == ["000000", "235959.999999"], "both ends are inclusive")
            #expect(try matching("235959.999999-000000.000000") == ["000000", "235959.999999"], "the last and first microsecond")
            #expect(try matching("12-11") == times.sorted(), "12:00 to 11:59:59.999999 the next day is the whole day")
            #expect(try matching("2200-") == ["2200", "235959.999999"], "an open end does not wrap")
            #expect(try matching("-0200") == ["000000", "015959.999999", "02", "0200"])
            #expect(try matching("0200-2200") == ["02", "0200", "020100", "120000", "215959.999999", "2200"])

            // The same rule for the times of the other levels.
            let levels = try TestIndex(["2330", "0030", "1200"].enumerated().map {
                TestInstance(study: "2.1", series: "2.1.\($0.offset + 1)", sop: "2.1.\($0.offset + 1).1",
                             ["SeriesTime": $0.element, "ContentTime": $0.element, "PerformedProcedureStepStartTime": $0.element])
            })
            #expect(try levels.uids(.series, ["SeriesTime=2300-0100"]) == ["2.1.1", "2.1.2"])
            #expect(try levels.uids(.series, ["PerformedProcedureStepStartTime=2331-0029"]).isEmpty)
            #expect(try levels.uids(.instance, ["ContentTime=23-00"]) == ["2.1.1.1", "2.1.2.1"])
            #expect(try levels.uids(.instance, ["ContentTime=1300-1100"]) == ["2.1.1.1", "2.1.2.1"])
        }

        @Test func dateTimeRanges() throws {
            let values = ["20240101093000", "20240101093000.5", "2024010110", "20240102", "20231231235959.999999"]
            let t = try TestIndex(values.enumerated().map {
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.\($0.offset + 1)", ["AcquisitionDateTime": $0.element])
            })
            func matching(_ value: String) throws -> [String] {
                try t.search(.instance, ["AcquisitionDateTime=\(value)"]).map { $0.value(Tag(0x0008, 0x002A))?.description ?? "" }.sorted()
            }
            #expect(try matching("20240101-20240101") == ["20240101093000", "20240101093000.5", "2024010110"])
            #expect(try matching("20240101") == ["20240101093000", "20240101093000.5", "2024010110"], "a single date covers the day")
            #expect(try matching("20240101093000.5-") == ["20240101093000.5", "2024010110", "20240102"])
            #expect(try matching("-2024010109") == ["20231231235959.999999", "20240101093000", "20240101093000.5"])
            #expect(try matching("2023-2023") == ["20231231235959.999999"])
            #expect(try matching("202401-202401") == ["20240101093000", "20240101093000.5", "2024010110", "20240102"])
        }

        /// PS3.4 C.2.2.2.5.3 d: offsets count. Stored values with an offset (their own, else the
        /// data set's TimezoneOffsetFromUTC) and query values with one compare in UTC; values
        /// without any compare as written.
        @Test func dateTimeOffsetsCompareInUTC() throws {
            let stored: [(sop: String, value: String, zone: String?)] = [
                ("a", "20240101003000+0100", nil),  // 2023-12-31 23:30 UTC
                ("b", "20240101093000-0500", nil),  // 2024-01-01 14:30 UTC
                ("c", "20240101143000", nil),  // no offset: as written
                ("d", "20240101120000", "+0200"),  // 10:00 UTC through TimezoneOffsetFromUTC
                ("e", "20240101120000+0000", "+0200"),  // its own offset wins: 12:00 UTC
                ("f", "20241231230000-0200", nil),  // 2025-01-01 01:00 UTC
                ("g", "20240301003000+0100", nil),  // 2024-02-29 23:30 UTC
                ("h", "2024+0100", nil),  // from 2023-12-31 23:00 UTC
                ("i", "20241231233000", nil),
            ]
            let t = try TestIndex(stored.map { s in
                var values = ["AcquisitionDateTime": s.value]
                if let zone = s.zone { values["TimezoneOffsetFromUTC"] = zone }
                let study = s.zone == nil ? "1.1" : "1.2"
                return TestInstance(study: study, series: study + ".1", sop: study + ".1." + String(s.sop.unicodeScalars.first!.value), values)
            })
            let byUID = Dictionary(uniqueKeysWithValues: stored.map {
                (($0.zone == nil ? "1.1.1." : "1.2.1.") + String($0.sop.unicodeScalars.first!.value), $0.sop)
            })
            func matching(_ value: String) throws -> [String] {
                try t.uids(.instance, ["AcquisitionDateTime=\(value)"]).map { byUID[$0]! }.sorted()
            }
            #expect(try matching("20231231") == ["a", "h"], "a query without an offset compares as written")
            #expect(try matching("20240101143000") == ["b", "c"])
            #expect(try matching("20240101093000-0500") == ["b", "c"], "one value with a negative offset, not a range")
            #expect(try matching("20240101093000-0500-") == ["b", "c", "f", "g", "i"])
            #expect(try matching("20240101120000+0200") == ["d"])
            #expect(try matching("20240101110000+0100-20240101130000+0100") == ["d", "e"])
            #expect(try matching("20241231230000-0200") == ["f"], "negative offset, carried into the next year")
            #expect(try matching("2025") == ["f"])
            #expect(try matching("20240229") == ["g"], "carried back into the leap day")
            #expect(try matching("2024") == ["b", "c", "d", "e", "g", "i"])
            #expect(try matching("2024+0100") == ["a", "b", "c", "d", "e", "g", "h"],
                    "a year in +0100 runs from 2023-12-31 23:00 to 2024-12-31 22:59:59.999999 UTC")
            #expect(try matching("-20231231230000+0000") == ["h"])
            for bad in ["20241301+0100", "20240101250000", "20240230", "20240101120000+1500"] {
                expectQueryError("AcquisitionDateTime") { _ = try t.search(.instance, ["AcquisitionDateTime=\(bad)"]) }
            }
        }

        // MARK: UIDs, integers

        @Test func uidListsMatchAnyOfTheirUIDs() throws {
            let t = try TestIndex([study("1.1"), study("1.2"), study("1.3")])
            #expect(try t.uids(.study, ["StudyInstanceUID=1.1\\1.3"]) == ["1.1", "1.3"])
            #expect(try t.uids(.study, ["StudyInstanceUID=1.2"]) == ["1.2"])
            #expect(try t.uids(.study, ["StudyInstanceUID=1.9"]).isEmpty)
            #expect(try t.uids(.study, ["StudyInstanceUID=1.*"]).isEmpty, "no wildcards in UIDs")
            #expect(try t.uids(.study, ["(0020,000D)=1.3\\\\1.9"]) == ["1.3"], "empty list items are ignored")
            #expect(try t.uids(.instance, ["SOPInstanceUID=1.1.1.1\\1.2.1.1"]) == ["1.1.1.1", "1.2.1.1"])
            #expect(try t.uids(.series, ["0020000E=1.2.1"]) == ["1.2.1"])
        }

        @Test func integersMatchExactly() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["SeriesNumber": "1", "InstanceNumber": "1", "Rows": "512"]),
                TestInstance(study: "1.1", series: "1.1.2", sop: "1.1.2.1", ["SeriesNumber": "2", "InstanceNumber": "3", "Rows": "256"]),
                TestInstance(study: "1.1", series: "1.1.3", sop: "1.1.3.1", ["SeriesNumber": "12", "InstanceNumber": "13"]),
            ])
            #expect(try t.uids(.series, ["SeriesNumber=1"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["SeriesNumber=+2"]) == ["1.1.2"])
            #expect(try t.uids(.instance, ["InstanceNumber=1\\13"]) == ["1.1.1.1", "1.1.3.1"])
            #expect(try t.uids(.instance, ["Rows=256"]) == ["1.1.2.1"])
            expectQueryError("not an integer") { _ = try t.search(.series, ["SeriesNumber=1*"]) }
            expectQueryError("not an integer") { _ = try t.search(.instance, ["Rows=big"]) }
            let rows = try t.search(.instance, ["Rows=512"])
            let object = try jsonObject(rows[0])
            #expect((object["00280010"] as? [String: Any])?["Value"] as? [Int] == [512])
            #expect((object["00280010"] as? [String: Any])?["vr"] as? String == "US")
        }

        // MARK: Person names

        @Test func personNamesAreCaseInsensitiveForAllOfUnicode() throws {
            let t = try TestIndex([
                study("1.1", ["PatientName": "Šimková^Eva"]),
                study("1.2", ["PatientName": "Simkova^Eva"]),
                study("1.3", ["PatientName": "ÖZTÜRK^AYŞE"]),
            ])
            #expect(try t.uids(.study, ["PatientName=šimková*"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=ŠIMKOVÁ^EVA"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=simkova*"]) == ["1.2"], "case folding, not accent folding")
            #expect(try t.uids(.study, ["PatientName=*eva"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["PatientName=öztürk^ayşe"]) == ["1.3"])
            #expect(try t.uids(.study, ["PatientName=?imkov?^eva"]) == ["1.1", "1.2"], "? is one character, not one byte")
            #expect(try t.uids(.study, ["PatientName=?imková^eva"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=šimková"]).isEmpty, "still whole-value matching")
        }

        /// Names typed or stored with combining marks (NFD) match their precomposed form (NFC).
        @Test func personNamesMatchAcrossUnicodeNormalizationForms() throws {
            let decomposed = "S\u{030C}imkova\u{0301}^Eva"  // Š and á as letter + combining mark
            let precomposed = "\u{0160}imkov\u{00E1}^Eva"
            #expect(Array(decomposed.utf8) != Array(precomposed.utf8))
            let t = try TestIndex([study("1.1", ["PatientName": decomposed]), study("1.2", ["PatientName": precomposed])])
            #expect(try t.uids(.study, ["PatientName=\u{0161}imkov\u{00E1}*"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["PatientName=s\u{030C}imkova\u{0301}^eva"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["PatientName=?imkov?^eva"]) == ["1.1", "1.2"], "one character each, whichever form was stored")
            #expect(try t.uids(.study, ["PatientName=*kov\u{00E1}"], configure: { $0.fuzzy = true }) == ["1.1", "1.2"])
        }

        @Test func latin1NamesAreDecodedAndMatched() throws {
            let t = try TestIndex([study("1.1", characterSet: "ISO_IR 100", ["PatientName": "Müller^Jürgen", "StudyDescription": "Schädel"])])
            #expect(try t.uids(.study, ["PatientName=müller*"]) == ["1.1"])
            #expect(try t.uids(.study, ["StudyDescription=Schädel"]) == ["1.1"])
            let object = try jsonObject(try t.search(.study)[0])
            let name = ((object["00100010"] as? [String: Any])?["Value"] as? [[String: String]])?.first
            #expect(name?["Alphabetic"] == "Müller^Jürgen")
            #expect(((object["00080005"] as? [String: Any])?["Value"] as? [String]) == ["ISO_IR 192"])
        }

        @Test func ideographicAndPhoneticGroupsOfISO2022Names() throws {
            let t = try TestIndex([
                study("1.1", characterSet: "\\ISO 2022 IR 87", raw: ["PatientName": yamadaISO2022]),
                study("1.2", ["PatientName": "Yamamoto^Hanako=山本^花子=やまもと^はなこ"]),
            ])
            #expect(try t.uids(.study, ["PatientName=山田*"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=山*"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["PatientName=やまだ^たろう"]) == ["1.1"], "phonetic group")
            #expect(try t.uids(.study, ["PatientName=YAMADA^Tarou"]) == ["1.1"], "alphabetic group, any case")
            #expect(try t.uids(.study, ["PatientName==山田^太郎"]) == ["1.1"], "group by group with =")
            #expect(try t.uids(.study, ["PatientName=yamada*=山本*"]).isEmpty, "every given group must match")
            #expect(try t.uids(.study, ["PatientName=*=*=やま*"]) == ["1.1", "1.2"])
            let object = try jsonObject(try t.search(.study, ["StudyInstanceUID=1.1"])[0])
            let name = ((object["00100010"] as? [String: Any])?["Value"] as? [[String: String]])?.first
            #expect(name == ["Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"])
        }

        @Test func fuzzyMatchesTheStartOfAnyNameComponent() throws {
            let t = try TestIndex([
                study("1.1", ["PatientName": "Doe^John^Paul"]),
                study("1.2", ["PatientName": "Pauling^Linus"]),
                study("1.3", ["PatientName": "Smith^Anna"]),
            ])
            #expect(try t.uids(.study, ["PatientName=paul"]).isEmpty)
            #expect(try t.uids(.study, ["PatientName=paul"]) { $0.fuzzy = true } == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["PatientName=jo"]) { $0.fuzzy = true } == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=ohn"]) { $0.fuzzy = true }.isEmpty, "the start of a component only")
            #expect(try t.uids(.study, ["PatientName=doe^jo"]) { $0.fuzzy = true } == ["1.1"])
            #expect(try t.uids(.study, ["PatientName=L?nus"]) { $0.fuzzy = true } == ["1.2"])
            #expect(try t.uids(.study, ["PatientName=Smith^Anna"]) { $0.fuzzy = true } == ["1.3"], "exact still matches")
        }

        @Test func multiValuedNamesMatchWhenOneValueMatches() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["OperatorsName": "Smith^Anna\\Jones^Bob"]),
                TestInstance(study: "1.1", series: "1.1.2", sop: "1.1.2.1", ["OperatorsName": "Sbarro^Bob"]),
            ])
            #expect(try t.uids(.series, ["OperatorsName=jones*"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["OperatorsName=smith^anna"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["OperatorsName=JONES^BOB"]) == ["1.1.1"])
            #expect(try t.uids(.series, ["OperatorsName=S*b"]) == ["1.1.2"], "a wildcard does not span two values")
            #expect(try t.uids(.series, ["OperatorsName=*^bob"]) == ["1.1.1", "1.1.2"])
            #expect(try t.uids(.series, ["OperatorsName=smith"]).isEmpty)
        }

        // MARK: ModalitiesInStudy, levels

        @Test func modalitiesInStudyMatchesAnySeries() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["Modality": "CT", "PatientID": "P1", "StudyDate": "20240101"]),
                TestInstance(study: "1.1", series: "1.1.2", sop: "1.1.2.1", ["Modality": "MR"]),
                TestInstance(study: "1.2", series: "1.2.1", sop: "1.2.1.1", ["Modality": "CR", "PatientID": "P2", "StudyDate": "20240102"]),
                TestInstance(study: "1.3", series: "1.3.1", sop: "1.3.1.1", ["Modality": "SM", "PatientID": "P1", "StudyDate": "20240103"]),
            ])
            #expect(try t.uids(.study, ["ModalitiesInStudy=CT"]) == ["1.1"])
            #expect(try t.uids(.study, ["ModalitiesInStudy=MR"]) == ["1.1"])
            #expect(try t.uids(.study, ["ModalitiesInStudy=CT\\CR"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["ModalitiesInStudy=?R"]) == ["1.1", "1.2"])
            #expect(try t.uids(.study, ["ModalitiesInStudy=US"]).isEmpty)
            // With another study key the series are probed per study (EXISTS); same answers.
            #expect(try t.uids(.study, ["PatientID=P1", "ModalitiesInStudy=MR"]) == ["1.1"])
            #expect(try t.uids(.study, ["PatientID=P1", "ModalitiesInStudy=SM\\CT"]) == ["1.1", "1.3"])
            #expect(try t.uids(.study, ["StudyDate=20240102-", "ModalitiesInStudy=CR"]) == ["1.2"])
            // Returned as a multi-valued CS.
            let object = try jsonObject(try t.search(.study, ["ModalitiesInStudy=CT"])[0])
            #expect((object["00080061"] as? [String: Any])?["Value"] as? [String] == ["CT", "MR"])
            // A study key at series level.
            #expect(try t.uids(.series, ["ModalitiesInStudy=CT"]) == ["1.1.1", "1.1.2"])
            #expect(try t.uids(.series, ["ModalitiesInStudy=CT"]) { $0.seriesUID = nil; $0.studyUID = "1.1" } == ["1.1.1", "1.1.2"])
        }

        @Test func studyKeysWorkAtLowerLevelsAndScopesNarrow() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["PatientID": "P1", "Modality": "CT", "InstanceNumber": "1"]),
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.2", ["PatientID": "P1", "Modality": "CT", "InstanceNumber": "2"]),
                TestInstance(study: "1.1", series: "1.1.2", sop: "1.1.2.1", ["PatientID": "P1", "Modality": "MR"]),
                TestInstance(study: "1.2", series: "1.2.1", sop: "1.2.1.1", ["PatientID": "P2", "Modality": "CT"]),
            ])
            #expect(try t.uids(.instance, ["PatientID=P1"]) == ["1.1.1.1", "1.1.1.2", "1.1.2.1"])
            #expect(try t.uids(.instance, ["Modality=CT"]) == ["1.1.1.1", "1.1.1.2", "1.2.1.1"])
            #expect(try t.uids(.series, ["PatientID=P2"]) == ["1.2.1"])
            #expect(try t.uids(.series) { $0.studyUID = "1.1" } == ["1.1.1", "1.1.2"])
            #expect(try t.uids(.instance) { $0.seriesUID = "1.1.1" } == ["1.1.1.1", "1.1.1.2"])
            #expect(try t.uids(.instance, ["Modality=MR"]) { $0.studyUID = "1.1" } == ["1.1.2.1"])
            #expect(try t.uids(.instance) { $0.studyUID = "1.2"; $0.seriesUID = "1.1.1" }.isEmpty)
            let instance = try t.search(.instance) { $0.seriesUID = "1.1.1" }[0]
            #expect(instance.value(.studyInstanceUID) == .text("1.1"))
            #expect(instance.value(.seriesInstanceUID) == .text("1.1.1"))
            let series = try t.search(.series, ["PatientID=P2"])[0]
            #expect(series.value(.studyInstanceUID) == .text("1.2"))
            #expect(series.value(.sopInstanceUID) == nil)
            #expect(series.value(Tag(0x0010, 0x0020)) == .text("P2"), "a matching key is returned")
        }

        @Test func availableTransferSyntaxAndSOPClassesCanBeMatched() throws {
            let t = try TestIndex([
                TestInstance(study: "1.1", series: "1.1.1", sop: "1.1.1.1", ["SOPClassUID": "1.2.840.10008.5.1.4.1.1.4"]),
                TestInstance(study: "1.2", series: "1.2.1", sop: "1.2.1.1"),
            ])
            #expect(try t.uids(.instance, ["AvailableTransferSyntaxUID=1.2.840.10008.1.2.1"]) == ["1.1.1.1", "1.2.1.1"])
            #expect(try t.uids(.instance, ["AvailableTransferSyntaxUID=1.2.840.10008.1.2"]).isEmpty)
            #expect(try t.uids(.study, ["SOPClassesInStudy=1.2.840.10008.5.1.4.1.1.4"]) == ["1.1"])
            #expect(try t.uids(.study, ["SOPClassesInStudy=1.2.840.10008.5.1.4.1.1"]).isEmpty, "whole UIDs only")
            #expect(try t.uids(.instance, ["SOPClassUID=1.2.840.10008.5.1.4.1.1.2"]) == ["1.2.1.1"])
        }

        // MARK: Keys

        @Test func unknownAndUnsupportedKeysAreErrorsNamingTheLevelsKeys() throws {
            let t = try TestIndex([study("1.1")])
            do {
                _ = try QueryKey(parsing: "NoSuchKeyword=1", level: .study)
                Issue.record("parsed an unknown keyword")
            } catch let error as IndexError {
                #expect(error.kind == .query)
                #expect(error.description.contains("not a DICOM keyword or tag"))
                #expect(error.description.contains("PatientName"))
            }
            expectQueryError("matching keys at study level") { _ = try t.search(.study, ["PatientWeight=70"]) }
            expectQueryError("StudyDate") { _ = try t.search(.study, ["PatientWeight=70"]) }
            expectQueryError("series-level key") { _ = try t.search(.study, ["Modality=CT"]) }
            expectQueryError("instance-level key") { _ = try t.search(.series, ["SOPInstanceUID"]) }
            expectQueryError("returned only") { _ = try t.search(.study, ["NumberOfStudyRelatedSeries=1"]) }
            expectQueryError("returned only") { _ = try t.search(.instance, ["ImageType=ORIGINAL*"]) }
            expectQueryError("not supported") { _ = try t.search(.study) { $0.fields = [Tag(0x0010, 0x1030)] } }
            expectQueryError("--series") { _ = try t.search(.study) { $0.seriesUID = "1.1.1" } }
            expectQueryError("--limit") { _ = try t.search(.study) { $0.limit = -1 } }
            #expect(try t.search(.study, ["NumberOfStudyRelatedSeries="]).count == 1, "an empty value is only a return key")
            #expect(try t.search(.instance, ["ImageType"]).count == 1)
        }

        @Test func tagFormsOfKeys() throws {
            let t = try TestIndex([study("1.1", ["PatientID": "P1"]), study("1.2", ["PatientID": "P2"])])
            for key in ["PatientID", "(0010,0020)", "0010,0020", "00100020", "(0010,0020) "] {
                #expect(try t.uids(.study, ["\(key)=P2"]) == ["1.2"], "\(key)")
            }
            #expect(try QueryKey(parsing: "PatientName=A=B").value == "A=B", "only the first = separates")
            #expect(try QueryKey(parsing: "PatientName").value == nil)
            #expect(try QueryKey(parsing: "PatientName=").value == "")
        }
    }
}

extension SearchTests {
    @Suite struct Results {
        @Test func resultOrderIsDateTimeUIDThenNumbers() throws {
            let t = try TestIndex([
                TestInstance(study: "2.9", series: "2.9.1", sop: "2.9.1.1", ["StudyDate": "20240102", "StudyTime": "0800"]),
                TestInstance(study: "2.1", series: "2.1.1", sop: "2.1.1.1", ["StudyDate": "20240102", "StudyTime": "0900"]),
                TestInstance(study: "2.5", series: "2.5.1", sop: "2.5.1.1", ["StudyDate": "20240102", "StudyTime": "0800"]),
                TestInstance(study: "2.0", series: "2.0.1", sop: "2.0.1.1"),
                TestInstance(study: "2.7", series: "2.7.1", sop: "2.7.1.1", ["StudyDate": "20240101"]),
                // Series: by number, missing last, then UID; instances likewise.
                TestInstance(study: "2.7", series: "2.7.2", sop: "2.7.2.1", ["SeriesNumber": "2", "InstanceNumber": "10"]),
                TestInstance(study: "2.7", series: "2.7.3", sop: "2.7.3.1", ["SeriesNumber": "1", "InstanceNumber": "2"]),
                TestInstance(study: "2.7", series: "2.7.3", sop: "2.7.3.2", ["SeriesNumber": "1", "InstanceNumber": "10"]),
                TestInstance(study: "2.7", series: "2.7.3", sop: "2.7.3.3", ["SeriesNumber": "1"]),
                TestInstance(study: "2.7", series: "2.7.3", sop: "2.7.3.0", ["SeriesNumber": "1", "InstanceNumber": "2"]),
            ])
            #expect(try t.uids(.study) == ["2.7", "2.5", "2.9", "2.1", "2.0"])
            #expect(try t.uids(.series) == ["2.7.3", "2.7.2", "2.7.1", "2.5.1", "2.9.1", "2.1.1", "2.0.1"])
            #expect(try t.uids(.instance, ["StudyInstanceUID=2.7"]) == ["2.7.3.0", "2.7.3.1", "2.7.3.2", "2.7.3.3", "2.7.2.1", "2.7.1.1"])
            #expect(try t.paths(.study, ["StudyInstanceUID=2.7"]) == ["2.7.3.0", "2.7.3.1", "2.7.3.2", "2.7.3.3", "2.7.2.1", "2.7.1.1"]
                .map { "files/\($0).dcm" }, "the files of a study, in instance order")
        }

        @Test func limitAndOffsetPageThroughTheOrder() throws {
            let t = try TestIndex((1...5).flatMap { n in
                [TestInstance(study: "3.\(n)", series: "3.\(n).1", sop: "3.\(n).1.1", ["StudyDate": "2024010\(n)"]),
                 TestInstance(study: "3.\(n)", series: "3.\(n).1", sop: "3.\(n).1.2", ["StudyDate": "2024010\(n)"])]
            })
            #expect(try t.uids(.study) { $0.limit = 2 } == ["3.1", "3.2"])
            #expect(try t.uids(.study) { $0.limit = 2; $0.offset = 1 } == ["3.2", "3.3"])
            #expect(try t.uids(.study) { $0.offset = 4 } == ["3.5"])
            #expect(try t.uids(.study) { $0.offset = 5 }.isEmpty)
            #expect(try t.uids(.study) { $0.limit = 0 }.isEmpty)
            #expect(try t.uids(.instance) { $0.limit = 3; $0.offset = 2 } == ["3.2.1.1", "3.2.1.2", "3.3.1.1"])
            // Paths of paged studies: every file of just those studies.
            #expect(try t.paths(.study) { $0.limit = 1; $0.offset = 3 } == ["files/3.4.1.1.dcm", "files/3.4.1.2.dcm"])
            #expect(try t.paths(.series) { $0.limit = 2 } == ["3.1.1.1", "3.1.1.2", "3.2.1.1", "3.2.1.2"].map { "files/\($0).dcm" })
            #expect(try t.paths(.instance) { $0.limit = 1; $0.offset = 9 } == ["files/3.5.1.2.dcm"])
        }

        @Test func computedCountsFollowTheIndex() throws {
            let t = try TestIndex([TestInstance(study: "4.1", series: "4.1.1", sop: "4.1.1.1", ["Modality": "CT"])])
            let series = QueryAttributes.numberOfStudyRelatedSeries, instances = QueryAttributes.numberOfStudyRelatedInstances
            var result = try t.search(.study)[0]
            #expect(result.value(series) == .integer(1))
            #expect(result.value(instances) == .integer(1))
            #expect(result.value(QueryAttributes.modalitiesInStudy) == .text("CT"))
            try t.add([
                TestInstance(study: "4.1", series: "4.1.1", sop: "4.1.1.2", ["Modality": "CT"]),
                TestInstance(study: "4.1", series: "4.1.2", sop: "4.1.2.1", ["Modality": "MR", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.4"]),
            ])
            result = try t.search(.study, ["SOPClassesInStudy"])[0]
            #expect(result.value(series) == .integer(2))
            #expect(result.value(instances) == .integer(3))
            #expect(result.value(QueryAttributes.modalitiesInStudy) == .text("CT\\MR"))
            #expect(result.value(QueryAttributes.sopClassesInStudy) == .text("1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.4"))
            let perSeries = try t.search(.series).map { $0.value(QueryAttributes.numberOfSeriesRelatedInstances) }
            #expect(perSeries == [.integer(2), .integer(1)])
            #expect(try t.uids(.study, ["ModalitiesInStudy=MR"]) == ["4.1"])
            let object = try jsonObject(result)
            #expect((object["00201206"] as? [String: Any])?["Value"] as? [Int] == [2])
            #expect((object["00201208"] as? [String: Any])?["vr"] as? String == "IS")
        }

        @Test func studyResultsCarryTheRequiredAttributesInTagOrder() throws {
            let t = try TestIndex([study("5.1", ["PatientName": "Doe^Jane", "StudyDate": "20240101", "AccessionNumber": "A1"])])
            let result = try t.search(.study)[0]
            let tags = result.columns.map(\.tag)
            #expect(tags == tags.sorted())
            let text = try DicomJSONEncoder().encode(result.dataSet)
            let object = try jsonObject(result)
            let required = ["00080005", "00080020", "00080030", "00080050", "00080061", "00080090", "00080201", "00100010",
                            "00100020", "00100030", "00100040", "0020000D", "00200010", "00201206", "00201208"]
            #expect(Set(object.keys) == Set(required))
            // Keys appear in ascending order in the text.
            let positions = required.sorted().map { text.range(of: "\"\($0)\"")!.lowerBound }
            #expect(positions == positions.sorted())
            #expect(((object["00100010"] as? [String: Any])?["Value"] as? [[String: String]]) == [["Alphabetic": "Doe^Jane"]])
            #expect((object["00080061"] as? [String: Any])?["vr"] as? String == "CS")
        }

        @Test func instanceResultsCarryRetrieveURLAndTransferSyntax() throws {
            let t = try TestIndex([TestInstance(study: "6.1", series: "6.1.1", sop: "6.1.1.1", ["InstanceNumber": "7", "Rows": "64"], path: "a dir/x.dcm")])
            let result = try t.search(.instance, retrieveURL: { $0.storedPath.map { "file:///archive/" + $0.replacingOccurrences(of: " ", with: "%20") } })[0]
            #expect(result.storedPath == "a dir/x.dcm")
            let object = try jsonObject(result)
            for key in ["00080005", "00080016", "00080018", "00081190", "00083002", "0020000D", "0020000E", "00200013",
                        "00280008", "00280010", "00280011", "00280100"] {
                #expect(object[key] != nil, "\(key)")
            }
            #expect((object["00081190"] as? [String: Any])?["Value"] as? [String] == ["file:///archive/a%20dir/x.dcm"])
            #expect((object["00081190"] as? [String: Any])?["vr"] as? String == "UR")
            #expect((object["00083002"] as? [String: Any])?["Value"] as? [String] == ["1.2.840.10008.1.2.1"])
            #expect((object["00200013"] as? [String: Any])?["Value"] as? [Int] == [7])
            #expect((object["00280008"] as? [String: Any])?["Value"] == nil, "no NumberOfFrames: zero-length")
        }

        /// The row hands the URL maker the UIDs of its level and above, and an instance's file.
        @Test func retrieveURLsAreMadeFromEachLevelsUIDs() throws {
            let t = try TestIndex([TestInstance(study: "6.2", series: "6.2.1", sop: "6.2.1.1", path: "p.dcm")])
            let made: (SearchRow) -> String? = { row in
                [row.studyUID, row.seriesUID, row.sopInstanceUID, row.storedPath].map { $0 ?? "-" }.joined(separator: " ")
            }
            let expected: [(QueryLevel, String)] = [(.study, "6.2 - - -"), (.series, "6.2 6.2.1 - -"), (.instance, "6.2 6.2.1 6.2.1.1 p.dcm")]
            for (level, text) in expected {
                let result = try t.search(level, configure: { $0.fields = [QueryAttributes.retrieveURL] }, retrieveURL: made)[0]
                #expect(result.value(QueryAttributes.retrieveURL) == .text(text), "\(level)")
            }
            let none = try t.search(.study, configure: { $0.fields = [QueryAttributes.retrieveURL] }, retrieveURL: { _ in nil })[0]
            #expect(none.value(QueryAttributes.retrieveURL) == nil)
            #expect(try t.search(.study)[0].columns.allSatisfy { $0.tag != QueryAttributes.retrieveURL }, "not returned unless asked")
        }

        @Test func fieldsAddAttributesAndAllReturnsEverything() throws {
            let t = try TestIndex([TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1",
                                                ["InstitutionName": "General", "BodyPartExamined": "HEAD", "ProtocolName": "P"])])
            let plain = try t.search(.series)[0]
            #expect(plain.value(Tag(0x0008, 0x0080)) == nil && !plain.columns.contains { $0.tag == Tag(0x0008, 0x0080) })
            let one = try t.search(.series) { $0.fields = [Tag(0x0018, 0x0015)] }[0]
            #expect(one.value(Tag(0x0018, 0x0015)) == .text("HEAD"))
            let all = try t.search(.series) { $0.allFields = true }[0]
            #expect(all.value(Tag(0x0008, 0x0080)) == .text("General"), "a study attribute")
            #expect(all.value(Tag(0x0018, 0x1030)) == .text("P"))
            #expect(all.value(QueryAttributes.instanceAvailability) == .text("ONLINE"))
            #expect(!all.columns.contains { $0.tag == .sopInstanceUID }, "nothing of the level below")
            let expected = Set(SearchKeys.supported(at: .series).map(\.tag))
            #expect(Set(all.columns.map(\.tag)) == expected)
            #expect(expected.contains(QueryAttributes.numberOfSeriesRelatedInstances))
            #expect(expected.contains(QueryAttributes.retrieveURL), "every level has a RetrieveURL")
            #expect(all.value(QueryAttributes.retrieveURL) == nil, "zero-length when nothing makes one")
        }

        @Test func streamedJSONIsWhatDicomJSONEncoderWrites() throws {
            let t = try TestIndex([
                TestInstance(study: "8.1", series: "8.1.1", sop: "8.1.1.1", [
                    "PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう",
                    "ReferringPhysicianName": "a=b=c=d",
                    "OperatorsName": "Smith^Anna\\\\=Ideo^Only",
                    "StudyDescription": "say \"hi\"\tthen\nnew line \u{01} é",
                    "InstitutionName": "x\\y",
                    "SeriesNumber": "-3", "InstanceNumber": "0", "Rows": "512", "ImageType": "ORIGINAL\\PRIMARY",
                ], path: "d/a file.dcm"),
                TestInstance(study: "8.1", series: "8.1.2", sop: "8.1.2.1"),
            ])
            let results = try t.search(.instance, configure: { $0.allFields = true },
                                       retrieveURL: { $0.storedPath.map { "file:///r/" + $0.replacingOccurrences(of: " ", with: "%20") } })
            #expect(results.count == 2)
            for result in results {
                for pretty in [false, true] {
                    var fast: [UInt8] = []
                    SearchResultJSON(columns: result.columns, pretty: pretty).append(result, to: &fast)
                    let reference = try DicomJSONEncoder(options: DicomJSONOptions(pretty: pretty)).encode(result.dataSet)
                    #expect(String(decoding: fast, as: UTF8.self) == reference, "pretty: \(pretty)")
                    // As a member of an array.
                    var member: [UInt8] = Array((pretty ? "[\n  " : "[").utf8)
                    SearchResultJSON(columns: result.columns, pretty: pretty, depth: 1).append(result, to: &member)
                    member += Array((pretty ? "\n]" : "]").utf8)
                    var writer = JSONWriter(pretty: pretty)
                    writer.beginArray()
                    try DicomJSONEncoder(options: DicomJSONOptions(pretty: pretty)).write(result.dataSet, to: &writer)
                    writer.endArray()
                    #expect(String(decoding: member, as: UTF8.self) == writer.string)
                }
            }
            // Rows written straight from SQLite's bytes (what dwc search does), with the layout
            // kept by the plan's template, are the same bytes.
            var query = SearchQuery(level: .instance)
            query.allFields = true
            let plan = try query.plan()
            for pretty in [false, true] {
                for depth in [0, 1] {
                    let encoder = SearchResultJSON(plan: plan, pretty: pretty, depth: depth)
                    let fresh = SearchResultJSON(columns: plan.columns, pretty: pretty, depth: depth)
                    var rows = 0
                    try t.index.searchRows(plan, retrieveURL: { $0.storedPath.map { "file:///r/" + $0 } }) { row in
                        var fromRow: [UInt8] = [], fromResult: [UInt8] = []
                        encoder.append(row, to: &fromRow)
                        fresh.append(row.result, to: &fromResult)
                        #expect(fromRow == fromResult, "pretty: \(pretty), depth: \(depth)")
                        rows += 1
                    }
                    #expect(rows == 2)
                }
            }
            let object = try jsonObject(results[0])
            let operators = (object["00081070"] as? [String: Any])?["Value"] as? [Any]
            #expect(operators?.count == 3, "an empty name in the middle is null")
            #expect(operators?[1] is NSNull)
            #expect((operators?[2] as? [String: String]) == ["Alphabetic": "", "Ideographic": "Ideo^Only"],
                    "Alphabetic always, empty groups left out")
            #expect((object["00081030"] as? [String: Any])?["Value"] as? [String] == ["say \"hi\"\tthen\nnew line \u{01} é"])
            #expect((object["00200011"] as? [String: Any])?["Value"] as? [Int] == [-3])
        }

        @Test func quotedTextIsEscapedWhereverTheByteFalls() throws {
            // The scan reads eight bytes at a time: an escaped byte at each position of a word,
            // in the tail after the last whole word, and bytes at and around the bounds.
            let specials: [UInt8] = [0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x01, 0x1F]
            let plain: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0xC3, 0xA9, 0x41]
            for length in 0...19 {
                for position in 0..<max(length, 1) {
                    for special in specials + plain {
                        var text = (0..<length).map { plain[$0 % plain.count] }
                        if length > 0 { text[position] = special }
                        // Whole UTF-8 sequences only: JSONWriter checks nothing but the caller must.
                        text = text.map { $0 >= 0x80 ? 0x41 : $0 }
                        var fast: [UInt8] = []
                        text.withUnsafeBufferPointer { SearchResultJSON.appendQuoted($0, to: &fast) }
                        var writer = JSONWriter()
                        text.withUnsafeBufferPointer { writer.string(utf8: $0) }
                        #expect(fast == writer.bytes, "length \(length), byte \(special) at \(position)")
                    }
                }
            }
            // Values split at each backslash, wherever it falls.
            let joined = Array("abcdefghij\\k\\\\lmnopqrstuvwxyz0123\\".utf8)
            var values: [String] = []
            joined.withUnsafeBufferPointer { bytes in
                SearchResultJSON.forEachValue(bytes, split: true, trimLeading: false) { values.append(String(decoding: $0, as: UTF8.self)) }
            }
            #expect(values == ["abcdefghij", "k", "", "lmnopqrstuvwxyz0123", ""])
        }

        @Test func plansOfOneShapeShareTheirStatementNotTheirValues() throws {
            let t = try TestIndex([
                TestInstance(study: "9.1", series: "9.1.1", sop: "9.1.1.1", ["PatientName": "Adams^Ann", "StudyDate": "20150305"]),
                TestInstance(study: "9.2", series: "9.2.1", sop: "9.2.1.1", ["PatientName": "Baker^Bob", "StudyDate": "20190101"]),
                TestInstance(study: "9.3", series: "9.3.1", sop: "9.3.1.1", ["PatientName": "Abbot^Al", "StudyDate": "20230101"]),
            ])
            func plan(_ keys: [String]) throws -> SearchPlan {
                var query = SearchQuery(level: .study)
                query.keys = try keys.map { try QueryKey(parsing: $0) }
                return try query.plan()
            }
            let a = try plan(["PatientName=A*", "StudyDate=20150101-20201231"])
            let b = try plan(["PatientName=B*", "StudyDate=20100101-20301231"])
            #expect(a.sql == b.sql)
            #expect(a.bindings != b.bindings)
            #expect(a.template === b.template, "one template per shape")
            // Another shape: an exact name, an open date range, another key returned.
            #expect(try plan(["PatientName=Adams^Ann", "StudyDate=20150101-20201231"]).sql != a.sql)
            #expect(try plan(["PatientName=A*", "StudyDate=20150101-"]).sql != a.sql)
            let withField = try plan(["PatientName=A*", "StudyDate=20150101-20201231", "InstitutionName"])
            #expect(withField.sql != a.sql)
            #expect(withField.columns.contains { $0.keyword == "InstitutionName" })
            #expect(!a.columns.contains { $0.keyword == "InstitutionName" })
            // The same statement, run one after the other with each plan's values.
            #expect(try t.uids(.study, ["PatientName=A*", "StudyDate=20150101-20201231"]) == ["9.1"])
            #expect(try t.uids(.study, ["PatientName=B*", "StudyDate=20100101-20301231"]) == ["9.2"])
            #expect(try t.uids(.study, ["PatientName=A*", "StudyDate=20100101-20301231"]) == ["9.1", "9.3"])
        }

        @Test func oneStatementPerSearch() throws {
            var query = SearchQuery(level: .instance)
            query.keys = [try QueryKey(parsing: "PatientName=Doe*"), try QueryKey(parsing: "ModalitiesInStudy=CT"),
                          try QueryKey(parsing: "StudyDate=20240101-")]
            let plan = try query.plan()
            #expect(!plan.sql.contains("Doe"), "values are bound, not spliced")
            #expect(plan.sql.components(separatedBy: "SELECT").count - 1 == 2, "the results and the ModalitiesInStudy subquery")
            #expect(plan.bindings.contains(.text("doe*")))
        }
    }
}
