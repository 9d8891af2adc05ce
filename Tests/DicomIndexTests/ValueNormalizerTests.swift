import DicomIndex
import Testing

/// The stored forms names and times match on. ASCII values take a byte path, others the
/// Unicode one: both must give the same shapes.
@Suite struct ValueNormalizerTests {
    @Test func nameGroupsKeepEachValuesGroupsApart() {
        #expect(ValueNormalizer.nameGroups("Doe^John") == ["doe^john", "", ""])
        #expect(ValueNormalizer.nameGroups("A=B\\C") == ["a\\c", "b", ""], "a later value without groups adds no separator there")
        #expect(ValueNormalizer.nameGroups("A\\B=C") == ["a\\b", "\\c", ""])
        #expect(ValueNormalizer.nameGroups("X=Y=Z=W") == ["x", "y", "z"], "a fourth group is dropped")
        #expect(ValueNormalizer.nameGroups("") == ["", "", ""])
        // The same shapes through the Unicode path.
        #expect(ValueNormalizer.nameGroups("Š=B\\C") == ["š\\c", "b", ""])
        #expect(ValueNormalizer.nameGroups("Š\\B=C") == ["š\\b", "\\c", ""])
        #expect(ValueNormalizer.nameGroups("ŠX=Y=Z=W") == ["šx", "y", "z"])
    }

    @Test func fuzzyComponentsAreSpaceDelimited() {
        #expect(ValueNormalizer.fuzzyComponents("Doe^John^^Dr") == " doe john dr ")
        #expect(ValueNormalizer.fuzzyComponents("Yamada^Tarou=山田^太郎") == " yamada tarou 山田 太郎 ")
        #expect(ValueNormalizer.fuzzyComponents("A B\\C=D") == " a b c d ")
        #expect(ValueNormalizer.fuzzyComponents("") == "  ")
        #expect(ValueNormalizer.fuzzyComponents("^^") == "  ")
    }

    @Test func secondsOfTimes() {
        #expect(ValueNormalizer.seconds("12") == 43200)
        #expect(ValueNormalizer.seconds("1230") == 45000)
        #expect(ValueNormalizer.seconds("123045") == 45045)
        #expect(ValueNormalizer.seconds(" 12:30:45.5 ") == 45045.5)
        #expect(ValueNormalizer.seconds("000000.000001") == 0.000001)
        let endOfNoon: Double = 43200 + 3540 + 59 + 0.999999
        #expect(ValueNormalizer.seconds("12", upper: true) == endOfNoon)
        let endOfTenth: Double = 45000.5 + 0.1 - 0.000001
        #expect(ValueNormalizer.seconds("123000.5", upper: true) == endOfTenth)
        #expect(ValueNormalizer.seconds("235960") == 86400, "a leap second")
        for bad in ["", "1", "123", "24", "1260", "12a0", "1230.", "1230.1234567", "٣٣", "12.5.5"] {
            #expect(ValueNormalizer.seconds(bad) == nil, "\(bad)")
        }
    }

    @Test func dateTimesWithOffsetsAreInUTC() {
        func dt(_ value: String, upper: Bool = false, zone: String? = nil) -> String? {
            ValueNormalizer.dateTime(value, upper: upper, defaultOffset: zone)
        }
        #expect(dt("20240101093000") == "20240101093000.000000", "no offset: as written")
        #expect(dt("20240101093000+0000") == "20240101093000.000000")
        #expect(dt("20240101093000-0500") == "20240101143000.000000")
        #expect(dt("20240101003000+0100") == "20231231233000.000000", "day, month and year carry backwards")
        #expect(dt("20241231230000-0200") == "20250101010000.000000", "and forwards")
        #expect(dt("20240301003000+0100") == "20240229233000.000000", "into a leap day")
        #expect(dt("20230301003000+0100") == "20230228233000.000000")
        #expect(dt("20240101093000.25+0530") == "20240101040000.250000", "fractions and seconds stay")
        #expect(dt("20240101120000", zone: "+0200") == "20240101100000.000000", "the data set's TimezoneOffsetFromUTC")
        #expect(dt("20240101120000+0000", zone: "+0200") == "20240101120000.000000", "the value's own offset wins")
        #expect(dt("20240101120000", zone: "0200") == "20240101120000.000000", "a malformed zone is ignored")
        #expect(dt("20240101120000+02") == "20240101120000.000000", "a malformed suffix is dropped, as before")
        // A value covers its precision's interval, whose ends are converted.
        #expect(dt("2024+0100") == "20231231230000.000000")
        #expect(dt("2024+0100", upper: true) == "20241231225959.999999")
        #expect(dt("202402-0100", upper: true) == "20240301005959.999999", "February's real last day before the carry")
        #expect(dt("202402", upper: true) == "20240231235959.999999", "without an offset the month end stays a sort bound")
        #expect(dt("0000+0100") == "00000101000000.000000", "clamped at the start of the range")
        #expect(dt("9999-0100", upper: true) == "99991231235959.999999")
        #expect(dt("20241301120000+0100") == "20241301120000.000000", "out-of-range parts: kept as written")
        for bad in ["", "202", "20241", "2024a1", "١٢٣٤"] {
            #expect(dt(bad + "+0100") == nil, "\(bad)")
        }
        #expect(ValueNormalizer.utcOffsetMinutes("-0130") == -90)
        #expect(ValueNormalizer.utcOffsetMinutes("+1500") == nil)
        #expect(ValueNormalizer.utcOffsetMinutes("+0160") == nil)
    }
}
