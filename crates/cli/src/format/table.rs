//! Go's `text/tabwriter` as docker/cli configures it (minwidth 10, tabwidth 1, padding 3, spaces):
//! every tab-terminated cell of a column is padded to the column's widest cell + 3, at least 10;
//! the last cell of a line is printed as it is.

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Go's `tabwriter.Writer` (minwidth 10, tabwidth 1, padding 3, padchar ' ', no flags) over a
/// complete text: cells are tab-terminated, a column block is a run of consecutive lines that
/// have a cell in that column, and each block is as wide as its widest cell + 3 (at least 10).
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    format_block(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

fn width_of(s: &str) -> usize {
    super::width::display_width(s)
}

fn format_block(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(width_of(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, c) in line.iter().enumerate() {
            out.push_str(c);
            if j < widths.len() {
                out.extend(std::iter::repeat_n(
                    ' ',
                    widths[j].saturating_sub(width_of(c)),
                ));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_blocks_like_go() {
        assert_eq!(
            tabwrite("a\tb\nlonger-cell-x\tc\n"),
            "a               b\nlonger-cell-x   c\n"
        );
        // A line without tabs ends the column block; the next block is sized on its own.
        assert_eq!(
            tabwrite("aaaaaaaaaaaaaaa\tb\nplain\nx\ty\n"),
            "aaaaaaaaaaaaaaa   b\nplain\nx         y\n"
        );
        assert_eq!(tabwrite("no tabs\n"), "no tabs\n");
        assert_eq!(tabwrite("é\tz\n"), "é         z\n");
    }

    #[test]
    fn docker_images_header() {
        let header = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n";
        assert_eq!(
            tabwrite(header),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
        assert_eq!(
            tabwrite(&format!(
                "{header}debian\tbookworm\t4eacea30377a\t8 days ago\t124MB\n"
            )),
            "REPOSITORY   TAG        IMAGE ID       CREATED      SIZE\ndebian       bookworm   4eacea30377a   8 days ago   124MB\n"
        );
    }
}
