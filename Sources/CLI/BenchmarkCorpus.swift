// A deterministic mixed-language corpus for tokenizer benchmarks.
//
// The mix roughly follows what a long DeepSeek prompt holds: English prose, source code, Chinese and Japanese,
// other scripts, numbers and data, Markdown with assorted whitespace, emoji, and chat control tokens. Words come
// from small lists but identifiers, numbers and hex strings are random, so the encoder's per-word cache sees both
// repeats and a steady stream of new words, as in real text. The same size and seed always give the same text,
// so runs on different machines and commits are comparable.

import Foundation

/// Builds the benchmark text.
struct BenchmarkCorpus {
    private var random: SplitMix64

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    /// Text of about `byteCount` UTF-8 bytes (it stops at the first paragraph boundary past that).
    static func make(byteCount: Int, seed: UInt64 = 1) -> String {
        var corpus = BenchmarkCorpus(seed: seed)
        var text = ""
        text.reserveCapacity(byteCount + 4096)
        while text.utf8.count < byteCount {
            text += corpus.paragraph()
        }
        return text
    }

    /// One paragraph of a randomly chosen kind, weighted by how common it is in prompts.
    mutating func paragraph() -> String {
        switch random.below(100) {
        case 0..<38: prose()
        case 38..<58: code()
        case 58..<70: cjk()
        case 70..<78: data()
        case 78..<85: otherScripts()
        case 85..<90: markdown()
        case 90..<95: emoji()
        default: chat()
        }
    }

    // MARK: - Paragraph kinds

    private mutating func prose() -> String {
        var sentences: [String] = []
        for _ in 0..<(2 + random.below(5)) {
            var words = (0..<(4 + random.below(14))).map { _ in pick(Self.englishWords) }
            words[0] = words[0].prefix(1).uppercased() + words[0].dropFirst()
            if random.below(4) == 0 { words.insert(String(random.below(2000)), at: random.below(words.count)) }
            if random.below(5) == 0 { words.insert("\"\(pick(Self.englishWords))\"", at: random.below(words.count)) }
            if random.below(6) == 0 { words[random.below(words.count)] += "," }
            sentences.append(words.joined(separator: " ") + pick([".", ".", ".", "?", "!", ";", "..."]))
        }
        return sentences.joined(separator: " ") + "\n\n"
    }

    private mutating func code() -> String {
        let function = identifier()
        var lines = ["func \(function)(\(identifier()): Int, \(identifier()): [String]) -> Bool {"]
        for _ in 0..<(3 + random.below(8)) {
            let indent = String(repeating: " ", count: 4 * (1 + random.below(3)))
            switch random.below(6) {
            case 0: lines.append("\(indent)let \(identifier()) = \(identifier())[\(random.below(64))] * 0x\(hex(4))")
            case 1: lines.append("\(indent)// \(pick(Self.englishWords)) \(pick(Self.englishWords)) \(identifier())")
            case 2: lines.append("\(indent)if \(identifier()) >= \(random.below(1000)) && !\(identifier()) { return false }")
            case 3: lines.append("\(indent)print(\"\(pick(Self.englishWords)): \\(\(identifier()))\")")
            case 4: lines.append("\(indent)\(identifier()).append(contentsOf: [\(random.below(9)), \(random.below(99))])")
            default: lines.append("\(indent)self.\(identifier()) += \(random.below(100)).\(random.below(100))\t// TODO")
            }
        }
        lines.append("    return \(identifier()) != nil\n}\n\n")
        return lines.joined(separator: random.below(8) == 0 ? "\r\n" : "\n")
    }

    private mutating func cjk() -> String {
        var text = ""
        for _ in 0..<(2 + random.below(4)) {
            let length = 6 + random.below(24)
            let japanese = random.below(4) == 0
            for _ in 0..<length {
                text.unicodeScalars.append(pick(japanese ? Self.kana : Self.hanzi))
            }
            if random.below(3) == 0 { text += "\(random.below(100))年\(pick(Self.englishWords))" }
            text += pick(["，", "。", "！", "？", "、", "：", "「", "」"])
        }
        return text + "\n"
    }

    private mutating func data() -> String {
        var rows: [String] = []
        for _ in 0..<(2 + random.below(6)) {
            rows.append(
                "{\"id\": \(random.below(1_000_000)), \"date\": \"20\(10 + random.below(16))-0\(1 + random.below(9))-\(10 + random.below(18))\", "
                    + "\"score\": \(random.below(100)).\(random.below(1000)), \"tag\": \"\(identifier())\", \"hash\": \"\(hex(16))\"}")
        }
        return rows.joined(separator: ",\n") + "\n"
    }

    private mutating func otherScripts() -> String {
        (0..<(5 + random.below(15))).map { _ in pick(Self.foreignWords) }.joined(separator: " ") + ".\n"
    }

    private mutating func markdown() -> String {
        var text = "## \(pick(Self.englishWords).capitalized) \(pick(Self.englishWords))\n\n"
        for index in 0..<(2 + random.below(4)) {
            text += "\(index + 1). **\(pick(Self.englishWords))** — \(pick(Self.englishWords)) `\(identifier())`  \n"
        }
        text += "| \(pick(Self.englishWords)) | \(random.below(100)) |\n|---|---:|\n\t\t\n   \n"
        return text
    }

    private mutating func emoji() -> String {
        (0..<(3 + random.below(10))).map { _ in pick(Self.emojis) + pick(["", " ", " ", "!"]) }.joined() + "\n"
    }

    private mutating func chat() -> String {
        "<｜User｜>\(prose())<｜Assistant｜><think>\(prose())</think>\(prose())<｜end▁of▁sentence｜>"
    }

    // MARK: - Pieces

    /// A fresh identifier in camelCase or snake_case, sometimes with digits.
    private mutating func identifier() -> String {
        let parts = (0..<(1 + random.below(3))).map { _ in pick(Self.englishWords) }
        var name = random.below(2) == 0
            ? parts.joined(separator: "_")
            : parts[0] + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        if random.below(4) == 0 { name += String(random.below(100)) }
        return name
    }

    private mutating func hex(_ digits: Int) -> String {
        String((0..<digits).map { _ in "0123456789abcdef".randomElement(using: &random)! })
    }

    private mutating func pick<T>(_ choices: [T]) -> T {
        choices[random.below(choices.count)]
    }

    // MARK: - Word lists

    private static let englishWords = """
        the of and to in is that for it as was with be by on not he this are or his from at which but have an they \
        you were her she there been one all we their has would when if so no what up out about into than them can \
        only other new some could time these two may first then do any like my now over such our man me even most \
        made after also did many before must through back years where much your way well down should because each \
        just those people how too little state good very make world still own see men work long get here between both \
        life being under never day same another know while last might us great old year off come since against go \
        came right used take three model token prompt memory cache layer attention expert vector matrix kernel \
        thread buffer latency throughput server request response stream decode encode value index offset window
        """.split(separator: " ").map(String.init)

    private static let hanzi = Array(
        "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷境"
            .unicodeScalars)

    private static let kana = Array(
        "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポーッャュョ"
            .unicodeScalars)

    private static let foreignWords = [
        "привет", "мир", "данные", "модель", "язык", "время", "человек", "работа", "مرحبا", "العالم", "بيانات",
        "نموذج", "لغة", "नमस्ते", "दुनिया", "भाषा", "मॉडल", "γειά", "κόσμος", "γλώσσα", "δεδομένα", "안녕하세요",
        "세계", "데이터", "언어", "모델", "שלום", "עולם", "สวัสดี", "ภาษา", "Grüße", "naïve", "café", "façade",
        "ñandú", "Ærø", "İstanbul", "Việt", "Nam", "tiếng",
    ]

    private static let emojis = [
        "😀", "😂", "🥲", "👍", "👍🏽", "🙏🏿", "❤️", "🔥", "🚀", "🎉", "🇺🇸", "🇯🇵", "🇨🇳", "👨‍👩‍👧‍👦", "🧑🏻‍💻",
        "🏳️‍🌈", "1️⃣", "#️⃣", "✅", "⚠️", "∑", "∫", "√", "≈", "≠", "∞", "€", "£", "¥", "©", "™", "→", "⇒",
    ]
}

/// SplitMix64: a tiny, fast, well-mixed generator; plenty for reproducible benchmark text.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniform integer in 0..<bound.
    mutating func below(_ bound: Int) -> Int {
        Int.random(in: 0..<bound, using: &self)
    }
}
