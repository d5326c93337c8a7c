/**
 * The demo's Chinese paraphrase data, generated from hand-written templates so the project
 * ships no third-party data. Seven intents (the way to a place, the weather, a price, how to do
 * something, opening hours, booking a ticket, travel time), each with 7 to 9 paraphrase
 * templates and slots (city, day, place, item, ...). A group is one intent with one slot filling;
 * its texts are 3 to 6 of the intent's paraphrases. Test pairs use fillings held out of training:
 * positives are two paraphrases of one filling; negatives are mostly hard — the same intent with
 * one slot changed (北京明天天气怎么样 / 上海明天天气怎么样, or a ticket's cities swapped), or
 * another intent sharing slot values (a ticket versus the travel time between the same cities) —
 * and some plain other-intent pairs. Templates use Chinese characters and full-width
 * punctuation only, so a character vocabulary covers every text.
 */
import type { TestPair } from './data.js';
import { SeededRandom } from '../model/random.js';

type Filling = Record<string, string>;

interface Intent {
  name: string;
  /** Paraphrases; `{x}` is replaced by slot x. */
  templates: readonly string[];
  slots: Readonly<Record<string, readonly string[]>>;
  /** Slots computed from the others (a price's measure word). */
  derive?: (filling: Filling) => Filling;
  isValid?: (filling: Filling) => boolean;
  /** Hard negatives may exchange these two slots (a ticket from A to B is not one from B to A). */
  swappable?: readonly [string, string];
  trainFillings: number;
  testFillings: number;
}

const CITIES = ['北京', '上海', '广州', '深圳', '杭州', '南京', '成都', '重庆', '武汉', '西安', '天津', '苏州', '长沙', '郑州', '青岛', '厦门', '昆明', '大连', '沈阳', '哈尔滨'];
const DAYS = ['今天', '明天', '后天', '大后天', '这个周末', '下周一', '星期三', '星期五'];
const VEHICLES = ['高铁', '飞机', '火车', '大巴'];
const MEASURE_WORD_OF_ITEM: Readonly<Record<string, string>> = {
  苹果: '斤', 鸡蛋: '斤', 大米: '袋', 牛奶: '箱', 西瓜: '个', 猪肉: '斤', 香蕉: '斤', 面包: '个',
  矿泉水: '瓶', 食用油: '桶', 白菜: '斤', 啤酒: '瓶', 牙膏: '支', 洗衣粉: '袋', 橙子: '斤', 酸奶: '盒',
};
const differentCities = (filling: Filling): boolean => filling.f !== filling.t;

const INTENTS: readonly Intent[] = [
  {
    name: 'way',
    templates: [
      '去{c}{p}怎么走', '{c}{p}怎么走', '请问{c}{p}在哪里', '到{c}{p}应该怎么走', '我想去{c}{p}，该怎么走',
      '怎样才能到{c}{p}', '去{c}{p}的路怎么走', '{c}{p}具体在什么位置', '谁知道{c}{p}怎么去',
    ],
    slots: {
      c: CITIES,
      p: ['火车站', '飞机场', '人民医院', '图书馆', '博物馆', '体育馆', '动物园', '汽车站', '人民公园', '步行街', '电影院', '游泳馆', '美术馆', '市政府', '海洋馆', '科技馆'],
    },
    trainFillings: 75,
    testFillings: 14,
  },
  {
    name: 'weather',
    templates: [
      '{c}{d}天气怎么样', '{d}{c}的天气怎么样', '{c}{d}的天气如何', '请问{d}{c}天气好不好', '{d}{c}是什么天气',
      '想了解一下{c}{d}的天气', '{c}{d}天气预报怎么说', '帮我查一下{c}{d}的天气',
    ],
    slots: { c: CITIES, d: DAYS },
    trainFillings: 75,
    testFillings: 14,
  },
  {
    name: 'price',
    templates: [
      '{s}的{i}多少钱一{u}', '{s}一{u}{i}多少钱', '{s}{i}卖多少钱一{u}', '请问{s}的{i}怎么卖', '{s}的{i}现在什么价格',
      '{s}买一{u}{i}要多少钱', '{s}{i}的价格是多少', '想知道{s}的{i}多少钱',
    ],
    slots: { s: ['超市里', '菜市场上', '便利店里', '网上', '商场里'], i: Object.keys(MEASURE_WORD_OF_ITEM) },
    derive: (filling) => ({ u: MEASURE_WORD_OF_ITEM[filling.i as string] as string }),
    trainFillings: 60,
    testFillings: 12,
  },
  {
    name: 'howto',
    templates: [
      '怎么{a}', '如何{a}', '{a}的方法是什么', '请教一下怎样{a}', '{a}有哪些步骤', '我想{a}，应该怎么做',
      '谁能教教我怎么{a}', '{a}要怎么弄',
    ],
    slots: {
      a: [
        '做红烧肉', '包饺子', '学游泳', '修自行车', '办护照', '换手机号', '开发票', '养多肉', '煮米饭', '学英语', '练书法', '做蛋糕',
        '泡绿茶', '种西红柿', '洗羽绒服', '办信用卡', '考驾照', '补办身份证', '申请签证', '装修厨房', '修电脑', '做酸菜鱼', '学弹吉他', '腌咸鸭蛋',
      ],
    },
    trainFillings: 20,
    testFillings: 4,
  },
  {
    name: 'hours',
    templates: [
      '{d}{q}几点开门', '{q}{d}什么时候开门', '{d}{q}的营业时间是几点', '请问{d}{q}几点开始营业', '{q}{d}早上几点开',
      '{d}{q}开门时间是几点', '想知道{q}{d}几点开门', '{d}的{q}一般几点开门',
    ],
    slots: { d: DAYS, q: ['银行', '超市', '邮局', '药店', '商场', '健身房', '图书馆', '博物馆', '营业厅', '动物园', '游泳馆', '洗衣店'] },
    trainFillings: 70,
    testFillings: 12,
  },
  {
    name: 'ticket',
    templates: [
      '帮我订一张{d}从{f}到{t}的{v}票', '我要买{d}{f}到{t}的{v}票', '订一张{d}{f}去{t}的{v}票', '请帮我预订{d}从{f}去{t}的{v}票',
      '{d}{f}到{t}的{v}票帮我订一张', '我想订{d}从{f}出发到{t}的{v}票', '麻烦买一张{d}{f}前往{t}的{v}票',
    ],
    slots: { d: DAYS, f: CITIES, t: CITIES, v: VEHICLES },
    isValid: differentCities,
    swappable: ['f', 't'],
    trainFillings: 80,
    testFillings: 14,
  },
  {
    // The travel time is the same both ways, so its cities are never swapped for a negative.
    name: 'travel',
    templates: [
      '从{f}到{t}坐{v}要多长时间', '{f}到{t}坐{v}需要多久', '坐{v}从{f}去{t}要几个小时', '{f}坐{v}到{t}得花多少时间',
      '乘{v}从{f}到{t}大概要多久', '从{f}坐{v}去{t}路上要多久', '{f}到{t}的{v}要多久',
    ],
    slots: { f: CITIES, t: CITIES, v: VEHICLES },
    isValid: differentCities,
    trainFillings: 60,
    testFillings: 12,
  },
];

/** Share of rendered texts that get a closing full-width question mark, for surface variety. */
const QUESTION_MARK_RATE = 0.3;

export interface DemoData {
  /** Paraphrase groups of 3 to 6 distinct texts. */
  groups: string[][];
  /** One key per group for train.json, such as `weather-017`. */
  groupKeys: string[];
  /** Balanced 0/1 pairs built from fillings that no group uses. */
  testPairs: TestPair[];
  /** [PAD], [UNK], [CLS], [SEP], [MASK], then every character of the data. */
  vocabTokens: string[];
}

function allFillings(intent: Intent): Filling[] {
  let fillings: Filling[] = [{}];
  for (const [name, values] of Object.entries(intent.slots)) {
    fillings = fillings.flatMap((filling) => values.map((value) => ({ ...filling, [name]: value })));
  }
  return intent.isValid ? fillings.filter(intent.isValid) : fillings;
}

class DemoGenerator {
  constructor(private readonly random: SeededRandom) {}

  render(intent: Intent, template: string, filling: Filling): string {
    const values = { ...filling, ...intent.derive?.(filling) };
    const text = template.replace(/\{(\w)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`template ${template} of ${intent.name} names an unknown slot ${name}`);
      return value;
    });
    return this.random.nextFloat() < QUESTION_MARK_RATE ? `${text}？` : text;
  }

  /** `count` distinct templates of the intent, in random order. */
  templates(intent: Intent, count: number): string[] {
    return this.random.shuffle([...intent.templates]).slice(0, count);
  }

  randomFilling(intent: Intent): Filling {
    for (;;) {
      const filling: Filling = {};
      for (const [name, values] of Object.entries(intent.slots)) filling[name] = this.random.pick(values);
      if (!intent.isValid || intent.isValid(filling)) return filling;
    }
  }

  /** The filling with one slot changed (or the swappable slots exchanged). */
  changeOneSlot(intent: Intent, filling: Filling): Filling {
    if (intent.swappable && this.random.nextFloat() < 0.3) {
      const [first, second] = intent.swappable;
      return { ...filling, [first]: filling[second] as string, [second]: filling[first] as string };
    }
    for (;;) {
      const name = this.random.pick(Object.keys(intent.slots));
      const changed = { ...filling, [name]: this.random.pick(intent.slots[name] as readonly string[]) };
      if (changed[name] !== filling[name] && (!intent.isValid || intent.isValid(changed))) return changed;
    }
  }

  /** A filling of another intent that reuses the slot values the two intents share, if any. */
  otherIntentSharingSlots(intent: Intent, filling: Filling): { intent: Intent; filling: Filling } {
    const others = INTENTS.filter((other) => other !== intent);
    const sharing = others.filter((other) => Object.keys(other.slots).some((name) => name in intent.slots));
    const other = this.random.pick(sharing.length > 0 ? sharing : others);
    for (;;) {
      const otherFilling = this.randomFilling(other);
      for (const name of Object.keys(other.slots)) {
        if (name in filling) otherFilling[name] = filling[name] as string;
      }
      if (!other.isValid || other.isValid(otherFilling)) return { intent: other, filling: otherFilling };
    }
  }
}

/**
 * Builds the demo vocabulary: the five special tokens, then every distinct character of the
 * texts after the tokenizer's normalisation (lower case, accents removed), sorted by code point.
 * Letters and digits also get a `##` continuation piece, since WordPiece needs one for every
 * character after the first of a Latin word or number.
 */
export function buildDemoVocab(texts: Iterable<string>): string[] {
  const characters = new Set<string>();
  for (const text of texts) {
    for (const character of text.toLowerCase().normalize('NFD')) {
      if (/[\p{Mn}\p{Cc}\p{Cf}\p{White_Space}\uFFFD]/u.test(character)) continue;
      characters.add(character);
    }
  }
  const sorted = [...characters].sort((x, y) => (x.codePointAt(0) as number) - (y.codePointAt(0) as number));
  const continuations = sorted.filter((character) => /[\p{L}\p{N}]/u.test(character) && !/\p{Script=Han}/u.test(character)).map((character) => `##${character}`);
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...sorted, ...continuations];
}

/** The demo's groups, test pairs and vocabulary; the same seed gives the same data. */
export function generateDemoData(seed = 20240601): DemoData {
  const random = new SeededRandom(seed);
  const generator = new DemoGenerator(random);
  const keyedGroups: { key: string; texts: string[] }[] = [];
  const heldOut: { intent: Intent; filling: Filling }[] = [];

  for (const intent of INTENTS) {
    const fillings = random.shuffle(allFillings(intent));
    const needed = intent.trainFillings + intent.testFillings;
    if (fillings.length < needed) throw new Error(`intent ${intent.name} has ${fillings.length} fillings, needs ${needed}`);
    fillings.slice(0, intent.trainFillings).forEach((filling, index) => {
      const size = 3 + random.nextInt(4);
      const texts = generator.templates(intent, size).map((template) => generator.render(intent, template, filling));
      keyedGroups.push({ key: `${intent.name}-${String(index + 1).padStart(3, '0')}`, texts });
    });
    for (const filling of fillings.slice(intent.trainFillings, needed)) heldOut.push({ intent, filling });
  }
  random.shuffle(keyedGroups);

  const positives: TestPair[] = [];
  for (const { intent, filling } of heldOut) {
    const [t1, t2, t3, t4] = generator.templates(intent, 4) as [string, string, string, string];
    positives.push(
      { a: generator.render(intent, t1, filling), b: generator.render(intent, t2, filling), label: 1 },
      { a: generator.render(intent, t3, filling), b: generator.render(intent, t4, filling), label: 1 },
    );
  }

  const negatives: TestPair[] = [];
  while (negatives.length < positives.length) {
    const { intent, filling } = heldOut[negatives.length % heldOut.length] as { intent: Intent; filling: Filling };
    const template = random.pick(intent.templates);
    const a = generator.render(intent, template, filling);
    const kind = random.nextFloat();
    let b: string;
    if (kind < 0.55) {
      const changed = generator.changeOneSlot(intent, filling);
      const otherTemplate = random.nextFloat() < 0.5 ? template : random.pick(intent.templates);
      b = generator.render(intent, otherTemplate, changed);
    } else if (kind < 0.85) {
      const other = generator.otherIntentSharingSlots(intent, filling);
      b = generator.render(other.intent, random.pick(other.intent.templates), other.filling);
    } else {
      const other = random.pick(INTENTS.filter((candidate) => candidate !== intent));
      b = generator.render(other, random.pick(other.templates), generator.randomFilling(other));
    }
    if (a.replace(/？$/, '') === b.replace(/？$/, '')) continue;
    negatives.push({ a, b, label: 0 });
  }

  const testPairs = random.shuffle([...positives, ...negatives]).map((pair) => (random.nextFloat() < 0.5 ? pair : { a: pair.b, b: pair.a, label: pair.label }));
  const groups = keyedGroups.map((group) => group.texts);
  const vocabTokens = buildDemoVocab([...groups.flat(), ...testPairs.flatMap((pair) => [pair.a, pair.b])]);
  return { groups, groupKeys: keyedGroups.map((group) => group.key), testPairs, vocabTokens };
}

/** The demo's files as text: train.json (the recipe's object of groups), test.txt and vocab.txt. */
export interface DemoFileTexts {
  train: string;
  test: string;
  vocab: string;
}

export function demoFileTexts(data: DemoData): DemoFileTexts {
  const members = data.groups.map((texts, index) => `  ${JSON.stringify(data.groupKeys[index] ?? `group-${index + 1}`)}: ${JSON.stringify(texts)}`);
  return {
    train: `{\n${members.join(',\n')}\n}\n`,
    test: data.testPairs.map((pair) => `${pair.a}\t${pair.b}\t${pair.label}\n`).join(''),
    vocab: data.vocabTokens.map((token) => `${token}\n`).join(''),
  };
}
