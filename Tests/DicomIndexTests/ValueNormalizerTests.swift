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
}
