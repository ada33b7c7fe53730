//! Contact lists paged by ID ("IDs after the last one listed"), the same way for every CRM: the
//! cursor is the last contact ID of a full page, a page that is not full is the last one, and an
//! answer that does not move past its cursor is an error rather than an endless loop.

use super::{ContactPage, CrmError, ListedContact};

/// The contact ID a cursor names (digits only), or `None` for the first page.
pub fn after_id(cursor: Option<&str>) -> Result<Option<u64>, CrmError> {
    let Some(cursor) = cursor.map(str::trim).filter(|c| !c.is_empty()) else { return Ok(None) };
    if cursor.len() > 20 || !cursor.chars().all(|c| c.is_ascii_digit()) {
        return Err(CrmError::Permanent("invalid list cursor".into()));
    }
    cursor.parse().map(Some).map_err(|_| CrmError::Permanent("invalid list cursor".into()))
}

/// One page from the rows a CRM answered, in its order: `(numeric ID, contact)`, with rows
/// the CRM must not list (deleted contacts) already left out but counted in `answered`.
/// Rows at or before the cursor are dropped (a server that ignored it), and so are contacts
/// changed before `since` when the CRM says when they changed (its own filter may be coarser).
pub fn keyset_page(
    rows: Vec<(u64, ListedContact)>,
    answered: usize,
    page_size: usize,
    after: Option<u64>,
    since: Option<u64>,
    total: Option<u64>,
) -> Result<ContactPage, CrmError> {
    let rows: Vec<(u64, ListedContact)> = rows.into_iter().filter(|(id, _)| after.map_or(true, |a| *id > a)).collect();
    let last = rows.iter().map(|(id, _)| *id).max();
    let next_cursor = if answered >= page_size {
        match last {
            Some(last) => Some(last.to_string()),
            None => {
                return Err(CrmError::Temporary("malformed CRM answer: the list did not move past its cursor".into()))
            }
        }
    } else {
        None
    };
    let changed_since = |contact: &ListedContact| match (since, contact.updated_at) {
        (Some(since), Some(at)) => at >= since,
        _ => true,
    };
    let contacts = rows.into_iter().map(|(_, contact)| contact).filter(changed_since).collect();
    Ok(ContactPage { contacts, next_cursor, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, updated_at: Option<u64>) -> (u64, ListedContact) {
        (id, ListedContact { id: id.to_string(), email: format!("c{id}@example.com"), updated_at })
    }

    fn ids(page: &ContactPage) -> Vec<&str> {
        page.contacts.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn cursors_are_contact_ids() {
        assert_eq!(after_id(None), Ok(None));
        assert_eq!(after_id(Some(" ")), Ok(None));
        assert_eq!(after_id(Some("42")), Ok(Some(42)));
        for bad in ["4 2", "-1", "x", "123456789012345678901", "99999999999999999999"] {
            assert!(matches!(after_id(Some(bad)), Err(CrmError::Permanent(_))), "{bad}");
        }
    }

    #[test]
    fn a_full_page_names_its_last_id_and_a_short_page_ends_the_list() {
        let full = keyset_page(vec![row(3, None), row(7, None)], 2, 2, None, None, Some(9)).unwrap();
        assert_eq!((ids(&full), full.next_cursor.as_deref(), full.total), (vec!["3", "7"], Some("7"), Some(9)));
        let short = keyset_page(vec![row(9, None)], 1, 2, Some(7), None, None).unwrap();
        assert_eq!((ids(&short), short.next_cursor.as_deref()), (vec!["9"], None));
        let empty = keyset_page(vec![], 0, 2, Some(9), None, None).unwrap();
        assert!(empty.contacts.is_empty() && empty.next_cursor.is_none());
    }

    #[test]
    fn left_out_rows_still_count_toward_a_full_page() {
        // Two rows answered, one of them deleted (left out): the list goes on after 8.
        let page = keyset_page(vec![row(8, None)], 2, 2, None, None, None).unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("8"));
    }

    #[test]
    fn a_server_that_ignores_the_cursor_cannot_loop_forever() {
        let repeated = keyset_page(vec![row(3, None), row(7, None)], 2, 2, Some(7), None, None);
        assert!(matches!(repeated, Err(CrmError::Temporary(_))));
        let partly = keyset_page(vec![row(5, None), row(9, None)], 2, 2, Some(7), None, None).unwrap();
        assert_eq!((ids(&partly), partly.next_cursor.as_deref()), (vec!["9"], Some("9")));
    }

    #[test]
    fn contacts_changed_before_since_are_dropped_but_keep_the_list_moving() {
        let page =
            keyset_page(vec![row(1, Some(99)), row(2, Some(100)), row(3, None)], 3, 3, None, Some(100), None).unwrap();
        assert_eq!((ids(&page), page.next_cursor.as_deref()), (vec!["2", "3"], Some("3")));
    }
}
