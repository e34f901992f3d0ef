/// A fleet line's `outcome`. Fleet's lines carry it (`FleetLine.Outcome`); it lives here so the
/// fleet file's `notify: on:` can name outcomes as values, not words.
public enum FleetOutcome: String, Sendable, CaseIterable {
    case ok, blocked, error, skipped
}
