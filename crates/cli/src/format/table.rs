//! Go's `text/tabwriter` as docker/cli configures it (minwidth 10, tabwidth 1, padding 3, spaces):
//! every tab-terminated cell of a column is padded to the column's widest cell + 3, at least 10;
//! the last cell of a line is printed as it is.

pub struct Table {
    rows: Vec<Vec<String>>,
}

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

impl Table {
    pub fn new() -> Self {
        Table { rows: Vec::new() }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![MIN_WIDTH; cols];
        for r in &self.rows {
            for (j, c) in r.iter().enumerate() {
                if j + 1 < r.len() {
                    widths[j] = widths[j].max(super::width::display_width(c) + PADDING);
                }
            }
        }
        let mut out = String::new();
        for r in &self.rows {
            for (j, c) in r.iter().enumerate() {
                out.push_str(c);
                if j + 1 < r.len() {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        widths[j] - super::width::display_width(c),
                    ));
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_images_header() {
        let mut t = Table::new();
        t.row(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
        assert_eq!(
            t.render(),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
        t.row(["debian", "bookworm", "4eacea30377a", "8 days ago", "124MB"]);
        assert_eq!(
            t.render(),
            "REPOSITORY   TAG        IMAGE ID       CREATED      SIZE\ndebian       bookworm   4eacea30377a   8 days ago   124MB\n"
        );
    }
}
