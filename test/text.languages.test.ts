/**
 * Language normalizers of the article notebooks. Vietnamese number spelling against hand-checked readings. The integer cases
 * agree with two independent hand-written lists: Humanizer's Vietnamese NumberToWords tests (units,
 * "mốt"/"tư"/"lăm", "linh", scales) and number_to_vietnamese_words' README (the full reading with
 * "không trăm": 2001, 2023, 1000000001). Humanizer drops "không trăm" (1005 "một nghìn linh năm");
 * we keep the formal reading, as cheques and the news read it.
 */
import { strict as assert } from 'assert';
import {
  getNormalizer, spellNumbersVietnamese, spellVietnameseInteger, spellVietnameseNumber, vietnameseNormalize, bretonCleanText,
} from '../src/text';

const INTEGERS: Array<[number | string, string]> = [
  [0, 'không'], [1, 'một'], [4, 'bốn'], [5, 'năm'], [10, 'mười'], [11, 'mười một'], [14, 'mười bốn'], [15, 'mười lăm'],
  [20, 'hai mươi'], [21, 'hai mươi mốt'], [24, 'hai mươi tư'], [25, 'hai mươi lăm'], [50, 'năm mươi'], [55, 'năm mươi lăm'],
  [100, 'một trăm'], [101, 'một trăm linh một'], [104, 'một trăm linh bốn'], [105, 'một trăm linh năm'],
  [110, 'một trăm mười'], [114, 'một trăm mười bốn'], [115, 'một trăm mười lăm'], [121, 'một trăm hai mươi mốt'],
  [134, 'một trăm ba mươi tư'], [505, 'năm trăm linh năm'], [555, 'năm trăm năm mươi lăm'],
  [1000, 'một nghìn'], [1115, 'một nghìn một trăm mười lăm'], [2001, 'hai nghìn không trăm linh một'],
  [2023, 'hai nghìn không trăm hai mươi ba'], [1005, 'một nghìn không trăm linh năm'],
  [1050, 'một nghìn không trăm năm mươi'], [11115, 'mười một nghìn một trăm mười lăm'], [21000, 'hai mươi mốt nghìn'],
  [1000000, 'một triệu'], [1000001, 'một triệu không trăm linh một'], [2005000, 'hai triệu không trăm linh năm nghìn'],
  [10000000, 'mười triệu'], [1000000000, 'một tỷ'], [1000000001, 'một tỷ không trăm linh một'],
  [1000000000000, 'một nghìn tỷ'],
  ['1111111111111111', 'một triệu một trăm mười một nghìn một trăm mười một tỷ một trăm mười một triệu một trăm mười một nghìn một trăm mười một'],
];

describe('Vietnamese number spelling', () => {
  it('integers: units, mười/mươi, mốt/tư/lăm, linh, không trăm, nghìn/triệu/tỷ', () => {
    for (const [n, words] of INTEGERS) assert.equal(spellVietnameseInteger(n), words, String(n));
  });

  it('decimals ("phẩy", Vietnamese comma or English point), thousands separators, signs, leading zeros', () => {
    const cases: Array<[string, string]> = [
      ['3,14', 'ba phẩy mười bốn'], ['0,05', 'không phẩy không năm'], ['2,5', 'hai phẩy năm'], ['3.5', 'ba phẩy năm'],
      ['1.000.000', 'một triệu'], ['12.345', 'mười hai nghìn ba trăm bốn mươi lăm'], ['1,000,000', 'một triệu'],
      ['-2', 'âm hai'], ['0912', 'không chín một hai'], ['007', 'không không bảy'],
    ];
    for (const [s, words] of cases) assert.equal(spellVietnameseNumber(s), words, s);
    assert.throws(() => spellVietnameseNumber('12a'), /not a number: "12a"/);
    assert.throws(() => spellVietnameseInteger('1.5'), /expected ASCII digits, got "1\.5"/);
  });

  it('numbers inside text, percent included', () => {
    assert.equal(spellNumbersVietnamese('100').trim(), 'một trăm');
    assert.equal(spellNumbersVietnamese('tăng 3,5%').replace(/\s+/g, ' ').trim(), 'tăng ba phẩy năm phần trăm');
    assert.equal(spellNumbersVietnamese('50 %').trim(), 'năm mươi phần trăm');
  });
});

describe('vietnameseNormalize', () => {
  it('lowercase, numbers in words, punctuation removed, Vietnamese letters kept (NFC)', () => {
    assert.equal(vietnameseNormalize('Năm 2024, giá tăng 3,5%!'),
      'năm hai nghìn không trăm hai mươi tư giá tăng ba phẩy năm phần trăm');
    assert.equal(vietnameseNormalize('Bối cảnh tạo bày ai là kẻ thế vai?'), 'bối cảnh tạo bày ai là kẻ thế vai');
    assert.equal(vietnameseNormalize('Vie\u0323\u0302t Nam'), 'việt nam');
    assert.equal(vietnameseNormalize('Hôm nay (thứ hai) tôi đi học.'), 'hôm nay thứ hai tôi đi học');
    assert.equal(vietnameseNormalize('Covid-19: nhiệt độ -5 độ'), 'covid mười chín nhiệt độ âm năm độ');
    assert.equal(vietnameseNormalize('ĐÀ NẴNG — «đẹp»'), 'đà nẵng đẹp');
  });

  it("is getNormalizer('vietnamese'), and idempotent", () => {
    const vi = getNormalizer('vietnamese');
    const s = 'Chỉ còn 100 ánh trăng mờ, yếu dõi qua những kẽ lá...';
    assert.equal(vi(s), 'chỉ còn một trăm ánh trăng mờ yếu dõi qua những kẽ lá');
    assert.equal(vi(vi(s)), vi(s));
  });
});

describe('bretonCleanText', () => {
  it("one apostrophe for c'h, hyphenated words kept, punctuation removed", () => {
    assert.equal(bretonCleanText('Ha koulz eo cʼhoazh da saveteiñ ar brezhoneg ?'), "ha koulz eo c'hoazh da saveteiñ ar brezhoneg");
    assert.equal(bretonCleanText('Ar gwellañ-holl eo d’ober.'), "ar gwellañ-holl eo d'ober");
    assert.equal(bretonCleanText("eno 'zo tud."), "eno 'zo tud");
    assert.equal(bretonCleanText('Diouzh ar mintin/ Diouzh an abardaez / Da noz.'), 'diouzh ar mintin diouzh an abardaez da noz');
    assert.equal(bretonCleanText('- a-walc’h eo … -'), "a-walc'h eo");
    assert.equal(getNormalizer('breton')('Trugarez!'), 'trugarez');
  });
});
