namespace LispMobility.Agent.Cli;

/// <summary>
/// Columns as `show` commands print them: an upper-case header, each column as wide as its widest value, two spaces
/// between. Nothing is ever cut or wrapped, so a piped or ssh'd table keeps every value whole and greps line by line.
/// </summary>
internal static class PlainTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => i < r.Count ? r[i].Length : 0))).ToArray();
        output.WriteLine(Line(headers.Select(h => h.ToUpperInvariant()).ToList(), widths));
        foreach (var row in all) output.WriteLine(Line(row, widths));
    }

    private static string Line(IReadOnlyList<string> cells, int[] widths) =>
        string.Join("  ", widths.Select((w, i) => i == widths.Length - 1 ? (i < cells.Count ? cells[i] : "") : (i < cells.Count ? cells[i] : "").PadRight(w))).TrimEnd();
}
