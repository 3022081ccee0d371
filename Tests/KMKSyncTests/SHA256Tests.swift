import KMKSync
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    @Test("NIST vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func vectors(input: String, digest: String) {
        #expect(SHA256.hex(input) == digest)
    }

    @Test("one million a, and updates split at every offset")
    func longAndSplit() {
        var s = SHA256()
        for _ in 0..<1000 { s.update(Array(repeating: UInt8(ascii: "a"), count: 1000)) }
        #expect(SHA256.hex(s.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let message = (0..<131).map { UInt8($0 & 0xFF) }
        let whole = SHA256.hash(message)
        for cut in 0...message.count {
            var t = SHA256()
            t.update(message[..<cut])
            t.update(message[cut...])
            #expect(t.finalize() == whole, "cut at \(cut)")
            // The array path (whole blocks straight from the input), mixed with the byte path.
            var u = SHA256()
            u.update(Array(message[..<cut]))
            u.update(message[cut..<min(message.count, cut + 7)])
            u.update(Array(message[min(message.count, cut + 7)...]))
            #expect(u.finalize() == whole, "array cut at \(cut)")
        }
    }
}
