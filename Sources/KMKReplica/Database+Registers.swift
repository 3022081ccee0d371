import CSQLite

/// SQL functions over a row's `regs` blob (``RegisterBlob``), defined on kmk-sync's own
/// connections. The capture triggers never call them (they must run in any SQLite client, SPEC.md
/// §4); kmk-sync's own statements do, so that a register is read or written in SQL without a round
/// trip per row.
///
/// - `kmk_reg(regs, i, k)`: register `i`'s stored `h` (k = 0), `s` (1), `b` (2) or `q` (3), NULL
///   where it stores none (`s`: 0).
/// - `kmk_write(regs, t, seq, written, clock, mark)`: the blob after ``RegisterRules/write``.
/// - `kmk_carry(regs, mark)`: the blob after ``RegisterRules/carry``.
/// - `kmk_count(regs, seq, mark)`: how many registers have a clock and a number above `mark`.
/// - `kmk_restamp(regs, t, seq, clock, limit, mark)`: the blob with every register of this
///   replica (site 0) whose clock is above `limit` and whose number is above `mark` clocked at
///   `clock` (``Replica/repairClock(tolerance:)``).
/// - `kmk_blob_ok(regs)`: 1 when the blob can be read, else 0 (``Replica/check()``).
/// - `kmk_pack(h0, s0, b0, q0, h1, …)`: the blob of layout-6 register columns (a register with
///   `q` -1, pending, stores its base alone); ``Replica/migrate(from:)`` uses it.
///
/// A malformed blob is an error ("corrupt register blob"), so a statement that meets one fails
/// instead of writing a wrong value.
extension Database {
    func defineRegisterFunctions() {
        let flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC
        sqlite3_create_function_v2(handle, "kmk_reg", 3, flags, nil, kmkReg, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_write", 6, flags, nil, kmkWrite, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_carry", 2, flags, nil, kmkCarry, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_count", 3, flags, nil, kmkCount, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_restamp", 6, flags, nil, kmkRestamp, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_blob_ok", 1, flags, nil, kmkBlobOK, nil, nil, nil)
        sqlite3_create_function_v2(handle, "kmk_pack", -1, flags, nil, kmkPack, nil, nil, nil)
    }
}

private typealias Arguments = UnsafeMutablePointer<OpaquePointer?>?

/// The bytes of argument `k`, a `regs` blob (none for NULL); nil when it is neither (the column is
/// `BLOB` in a `STRICT` table, so only a value from elsewhere can be).
private func blobBytes(_ argv: Arguments, _ k: Int) -> UnsafeRawBufferPointer? {
    let v = argv![k]
    switch sqlite3_value_type(v) {
    case SQLITE_NULL:
        return UnsafeRawBufferPointer(start: nil, count: 0)
    case SQLITE_BLOB:
        let p = sqlite3_value_blob(v)
        return UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : Int(sqlite3_value_bytes(v)))
    default:
        return nil
    }
}

/// Sets the error a statement that meets an unreadable blob fails with.
private func corrupt(_ ctx: OpaquePointer?) {
    sqlite3_result_error(ctx, "corrupt register blob (regs); run kmk-sync check", -1)
}

/// The registers of argument `k` (a `regs` blob or NULL), at least `count` of them; nil (with the
/// error set) when malformed.
private func registers(_ ctx: OpaquePointer?, _ argv: Arguments, _ k: Int, count: Int = 0) -> [StoredRegister]? {
    var out = [StoredRegister](repeating: .empty, count: count)
    guard let bytes = blobBytes(argv, k), RegisterBlob.decode(bytes, into: &out, grow: true) else {
        corrupt(ctx)
        return nil
    }
    return out
}

private func optionalInt(_ argv: Arguments, _ k: Int) -> Int64? {
    sqlite3_value_type(argv![k]) == SQLITE_NULL ? nil : sqlite3_value_int64(argv![k])
}

private func int(_ argv: Arguments, _ k: Int) -> Int64 { sqlite3_value_int64(argv![k]) }

private func result(_ ctx: OpaquePointer?, _ slots: [StoredRegister]) {
    let blob = RegisterBlob.encode(slots)
    if blob.isEmpty { return sqlite3_result_null(ctx) }
    blob.withUnsafeBytes { sqlite3_result_blob(ctx, $0.baseAddress, Int32($0.count), kmk_sqlite_transient()) }
}

private let kmkReg: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    let i = Int(int(argv, 1))
    guard let slots = registers(ctx, argv, 0) else { return }
    let r = i >= 0 && i < slots.count ? slots[i] : .empty
    let v: Int64?
    switch int(argv, 2) {
    case 0: v = r.h
    case 1: v = r.s
    case 2: v = r.b
    default: v = r.q
    }
    if let v { sqlite3_result_int64(ctx, v) } else { sqlite3_result_null(ctx) }
}

private let kmkWrite: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    let written = int(argv, 3)
    let clock = int(argv, 4)
    guard let bytes = blobBytes(argv, 0) else { return corrupt(ctx) }
    withUnsafeTemporaryAllocation(byteCount: RegisterBlob.rewriteCapacity(bytes.count, written: written), alignment: 1) { out in
        guard let n = RegisterBlob.rewrite(bytes, into: out, t: optionalInt(argv, 1) ?? clock, oldSeq: optionalInt(argv, 2), written: written,
                                           clock: clock, mark: int(argv, 5)) else {
            return corrupt(ctx)
        }
        if n == 0 { return sqlite3_result_null(ctx) }
        sqlite3_result_blob(ctx, out.baseAddress, Int32(n), kmk_sqlite_transient())
    }
}

private let kmkCarry: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    guard var slots = registers(ctx, argv, 0) else { return }
    RegisterRules.carry(&slots, mark: int(argv, 1))
    result(ctx, slots)
}

private let kmkCount: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    guard let slots = registers(ctx, argv, 0) else { return }
    let seq = optionalInt(argv, 1)
    let mark = int(argv, 2)
    var n: Int64 = 0
    for r in slots where r.h != nil { if let q = r.q ?? seq, q > mark { n += 1 } }
    sqlite3_result_int64(ctx, n)
}

private let kmkRestamp: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    guard var slots = registers(ctx, argv, 0) else { return }
    // A record never clocked has no clock to take back.
    guard let t = optionalInt(argv, 1) else { return sqlite3_result_value(ctx, argv![0]) }
    let seq = optionalInt(argv, 2)
    let clock = int(argv, 3), limit = int(argv, 4), mark = int(argv, 5)
    for i in slots.indices {
        guard let h = slots[i].h, t + h > limit, slots[i].s == 0, let q = slots[i].q ?? seq, q > mark else { continue }
        slots[i].h = clock - t
    }
    result(ctx, slots)
}

private let kmkBlobOK: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, _, argv in
    var out: [StoredRegister] = []
    let ok = blobBytes(argv, 0).map { RegisterBlob.decode($0, into: &out, grow: true) } ?? false
    sqlite3_result_int64(ctx, ok ? 1 : 0)
}

private let kmkPack: @convention(c) (OpaquePointer?, Int32, Arguments) -> Void = { ctx, argc, argv in
    guard argc % 4 == 0 else { return sqlite3_result_error(ctx, "kmk_pack takes four columns per register", -1) }
    var slots: [StoredRegister] = []
    for k in stride(from: 0, to: Int(argc), by: 4) {
        let q = optionalInt(argv, k + 3)
        if q == -1 {
            slots.append(StoredRegister(h: nil, s: 0, b: optionalInt(argv, k + 2), q: nil))
        } else {
            slots.append(StoredRegister(h: optionalInt(argv, k), s: int(argv, k + 1), b: optionalInt(argv, k + 2), q: q))
        }
    }
    result(ctx, slots)
}
